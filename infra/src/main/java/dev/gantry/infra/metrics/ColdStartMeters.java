package dev.gantry.infra.metrics;

import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.db.WorkerRecord;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import org.springframework.stereotype.Component;

/**
 * The {@code gantry.worker.cold.start} timers, tagged by {@code framework} and {@code phase} only
 * (never an id, so the series stay few): {@code provision} (decision → engine process started) and
 * {@code boot} (→ healthy) are recorded where the worker's activities run, {@code first_request} (→
 * first request routed) and {@code total} (decision → first request routed) by the gateway that
 * routed it. Each step is recorded once per worker, when its instant is first stored.
 */
@Component
public class ColdStartMeters implements MeterBinder {
  public static final String NAME = "gantry.worker.cold.start";

  /** A step of a cold start, named as in the workers' {@code cold_start} object. */
  public enum Phase {
    PROVISION,
    BOOT,
    FIRST_REQUEST,
    TOTAL;

    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private volatile MeterRegistry registry;

  @Override
  public void bindTo(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Records the phase from {@code from} to {@code to}; nothing when either is unknown. */
  public void record(Framework framework, Phase phase, Instant from, Instant to) {
    MeterRegistry r = registry;
    if (r == null || framework == null || from == null || to == null || to.isBefore(from)) {
      // Not bound (no metrics), or a step that was not reached or recorded before cold starts
      // were; a negative span would only come from clocks of two hosts disagreeing.
      return;
    }
    Timer.builder(NAME)
        .description(
            "Time from a worker's scale-up decision through its steps to its first request")
        .tag("framework", framework.wireName())
        .tag("phase", phase.tag())
        .register(r)
        .record(Duration.between(from, to));
  }

  /** The gateway's steps, once it recorded the worker's first routed request. */
  public void recordFirstRouted(Framework framework, WorkerRecord worker) {
    record(framework, Phase.FIRST_REQUEST, worker.healthyAt(), worker.firstRoutedAt());
    record(framework, Phase.TOTAL, worker.decidedAt(), worker.firstRoutedAt());
  }
}
