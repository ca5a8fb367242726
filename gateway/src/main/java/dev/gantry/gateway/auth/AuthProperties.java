package dev.gantry.gateway.auth;

import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How the gateway authenticates requests ({@code gantry.auth.*}).
 *
 * @param keyRefresh how often the in-memory API key snapshot is reloaded from the database: the
 *     longest a key issued or revoked by another replica takes to take effect here
 */
@Validated
@ConfigurationProperties("gantry.auth")
public record AuthProperties(@DefaultValue("1s") @NotNull Duration keyRefresh) {}
