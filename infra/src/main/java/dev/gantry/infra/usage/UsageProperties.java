package dev.gantry.infra.usage;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How usage records are buffered and written ({@code gantry.usage.*}).
 *
 * @param bufferCapacity records held in memory, waiting or being retried; beyond it new records are
 *     dropped and counted
 * @param batchSize records per insert and commit; a flush starts as soon as this many are waiting.
 *     Large, because each commit of the embedded database is a write to its file
 * @param flushInterval longest time a record waits before it is written
 */
@Validated
@ConfigurationProperties("gantry.usage")
public record UsageProperties(
    @DefaultValue("100000") @Positive int bufferCapacity,
    @DefaultValue("5000") @Positive int batchSize,
    @DefaultValue("1s") @NotNull Duration flushInterval) {

  public UsageProperties {
    if (flushInterval != null && (flushInterval.isZero() || flushInterval.isNegative())) {
      throw new IllegalArgumentException("gantry.usage.flush-interval must be positive");
    }
  }
}
