package dev.gantry.gateway.inference;

import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Who gets a worker slot: a request waits in its deployment's FIFO queue ({@link DeploymentRoute})
 * for a free slot on a healthy worker, up to the deployment's wait time; a request that could not
 * reach its worker gets one other worker at once, or waits again within what is left of its time; a
 * worker that failed in a way that says it is in trouble is kept out of routing for a cooldown.
 */
final class Admission {
  private static final Logger log = LoggerFactory.getLogger(Admission.class);

  private final LoadReporter reporter;
  private final Duration cooldown;
  private final Clock clock;

  Admission(LoadReporter reporter, Duration cooldown, Clock clock) {
    this.reporter = reporter;
    this.cooldown = cooldown;
    this.clock = clock;
  }

  /**
   * A slot on {@code route}: at once, or after a wait in the queue. Errors with the error table's
   * outcome: 429 when the queue is full, and on a wait-out 503, 504 or 408. A slot granted to a
   * request that is gone by then is given back.
   */
  Mono<Lease> admit(DeploymentRoute route) {
    return route.admit(() -> reporter.queued(route)).doOnDiscard(Lease.class, Lease::release);
  }

  /**
   * A slot for a request that never reached a worker, at the head of the queue, within what is left
   * of the wait time of a request that came at {@code startedAtMillis}; null when none is.
   */
  Mono<Lease> readmit(DeploymentRoute route, long startedAtMillis) {
    long left = startedAtMillis + route.spec().waitTimeSeconds() * 1000L - clock.millis();
    if (left <= 0) {
      return null;
    }
    return route.readmit(left).doOnDiscard(Lease.class, Lease::release);
  }

  /**
   * After a worker could not be reached: it is kept out of routing for the cooldown, and, when
   * {@code mayRetry}, a slot on another worker is taken (never the same one) before the failed one
   * is freed, so the freed slot cannot go to a request that would meet the same failure.
   *
   * @return the other slot, or null
   */
  Lease unreachable(Lease failed, String requestId, Throwable cause, boolean mayRetry) {
    failed.route.markUnreachable(failed.upstream, cooldown.toMillis());
    Lease other = mayRetry ? failed.route.tryAcquireOther(failed.upstream) : null;
    log.warn(
        "Worker {} unreachable for request {}{}: {}",
        failed.upstream.workerId,
        requestId,
        other == null ? "" : ", retrying on " + other.upstream.workerId,
        cause.toString());
    return other;
  }

  /**
   * Keeps a worker that failed a request in a way that says it is in trouble (gone, or silent) out
   * of routing for the cooldown, before its slot is freed: requests waiting in the queue must not
   * be handed a slot on it.
   */
  void eject(Lease lease, String requestId, Throwable cause) {
    lease.route.markUnreachable(lease.upstream, cooldown.toMillis());
    log.warn(
        "Worker {} failed request {} ({}): no new requests for {}",
        lease.upstream.workerId,
        requestId,
        cause.toString(),
        cooldown);
  }
}
