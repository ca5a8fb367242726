package dev.gantry.gateway.auth;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How the gateway authenticates requests ({@code gantry.auth.*}).
 *
 * @param keyRefresh how often the in-memory API key snapshot is reloaded from the database: the
 *     longest a key issued or revoked by another replica takes to take effect here
 * @param failedAttemptsBurst failed authentications one source address (an IPv6 /64) may make in a
 *     row before it is answered 429
 * @param failedAttemptsPerMinute failed authentications per minute an address may make after its
 *     burst is spent
 * @param failedAttemptsTracked source addresses followed at once; beyond it, new addresses share
 *     one limit
 */
@Validated
@ConfigurationProperties("gantry.auth")
public record AuthProperties(
    @DefaultValue("1s") @NotNull Duration keyRefresh,
    @DefaultValue("20") @Positive int failedAttemptsBurst,
    @DefaultValue("10") @Positive int failedAttemptsPerMinute,
    @DefaultValue("100000") @Positive int failedAttemptsTracked) {}
