package dev.gantry.sim;

import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link SimClock} that moves only when a test {@link #advance}s it. A request's thread sleeping
 * until a deadline wakes once the clock has reached it, and one that asks for a deadline already
 * passed (because it lagged behind the test) goes on at once. Nothing wakes early, so a test may
 * assert at once that something has not happened yet, and awaits what must have happened.
 */
final class ManualClock implements SimClock {

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition moved = lock.newCondition();
  private long now;

  @Override
  public long nanoTime() {
    lock.lock();
    try {
      return now;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void sleepUntil(long dueNanos) throws InterruptedException {
    lock.lock();
    try {
      while (now < dueNanos) {
        moved.await();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Moves time forward by {@code step}, waking every thread whose deadline it reaches. */
  void advance(Duration step) {
    lock.lock();
    try {
      now += step.toNanos();
      moved.signalAll();
    } finally {
      lock.unlock();
    }
  }
}
