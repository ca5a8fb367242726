package dev.gantry.sim;

import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * The time the simulator paces generation by. Deadlines are absolute ({@link #at}), so a request's
 * schedule does not drift when a timer fires late, and a test clock can move time without racing
 * the threads that register deadlines.
 */
interface SimClock {

  /** Monotonic time in nanoseconds (only differences are meaningful). */
  long nanoTime();

  /**
   * Completes once {@link #nanoTime()} has reached {@code dueNanos}, at once when it already has.
   * Cancelling it drops the deadline.
   */
  Mono<Void> at(long dueNanos);

  /** {@link System#nanoTime()} and Reactor's timer: what the server uses outside tests. */
  static SimClock system() {
    return SystemClock.INSTANCE;
  }

  /** The real clock. */
  enum SystemClock implements SimClock {
    INSTANCE;

    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public Mono<Void> at(long dueNanos) {
      long wait = dueNanos - System.nanoTime();
      return wait <= 0 ? Mono.empty() : Mono.delay(Duration.ofNanos(wait)).then();
    }
  }
}
