package dev.gantry.sim;

import java.time.Duration;

/**
 * The time the simulator paces generation by. Deadlines are absolute ({@link #at}), so a request's
 * schedule does not drift when a timer fires late, and a test clock can move time without racing
 * the threads that register deadlines.
 */
interface SimClock {

  /** Monotonic time in nanoseconds (only differences are meaningful). */
  long nanoTime();

  /**
   * Returns once {@link #nanoTime()} has reached {@code dueNanos}, at once when it already has.
   *
   * @throws InterruptedException when the request's thread is interrupted (its client left)
   */
  void sleepUntil(long dueNanos) throws InterruptedException;

  /** {@link System#nanoTime()} and {@link Thread#sleep}: what the server uses outside tests. */
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
    public void sleepUntil(long dueNanos) throws InterruptedException {
      long wait;
      while ((wait = dueNanos - System.nanoTime()) > 0) {
        Thread.sleep(Duration.ofNanos(wait));
      }
    }
  }
}
