package dev.gantry.infra.db;

import java.time.Instant;

/**
 * One worker's billed lifetime, from {@code worker_intervals}.
 *
 * @param gpuType the catalog's GPU type; null for a worker on virtual slots ({@code sim}), which
 *     costs nothing
 * @param endedAt null while the worker runs: it bills up to now
 */
public record WorkerInterval(
    String workerId,
    String deploymentId,
    String gpuType,
    int gpuCount,
    Instant startedAt,
    Instant endedAt) {

  /** Seconds of this interval within {@code [from, to)}, an open one running up to {@code now}. */
  public double secondsWithin(Instant from, Instant to, Instant now) {
    Instant end = endedAt == null ? now : endedAt;
    Instant a = startedAt.isAfter(from) ? startedAt : from;
    Instant b = end.isBefore(to) ? end : to;
    return b.isAfter(a) ? java.time.Duration.between(a, b).toMillis() / 1000.0 : 0;
  }
}
