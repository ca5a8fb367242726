package dev.gantry.sim;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * A {@link SimClock} that moves only when a test {@link #advance}s it. Deadlines fire on the
 * advancing thread in time order; one registered after its time has passed (by an event-loop thread
 * that lagged behind the test) fires at once where it is registered. Nothing fires early, so a test
 * may assert at once that something has not happened yet, and awaits what must have happened.
 */
final class ManualClock implements SimClock {

  private record Deadline(long dueNanos, long sequence, Sinks.Empty<Void> sink) {}

  private final PriorityQueue<Deadline> deadlines =
      new PriorityQueue<>(
          Comparator.comparingLong(Deadline::dueNanos).thenComparingLong(Deadline::sequence));
  private long now;
  private long sequence;

  @Override
  public synchronized long nanoTime() {
    return now;
  }

  @Override
  public Mono<Void> at(long dueNanos) {
    return Mono.defer(
        () -> {
          Sinks.Empty<Void> sink;
          synchronized (this) {
            if (dueNanos <= now) {
              return Mono.empty();
            }
            sink = Sinks.empty();
            deadlines.add(new Deadline(dueNanos, sequence++, sink));
          }
          return sink.asMono();
        });
  }

  /** Moves time forward by {@code step}, firing every deadline it passes, in order. */
  void advance(Duration step) {
    long target;
    synchronized (this) {
      target = now + step.toNanos();
    }
    while (true) {
      List<Deadline> due = new ArrayList<>();
      synchronized (this) {
        Deadline next = deadlines.peek();
        if (next == null || next.dueNanos() > target) {
          now = target;
          return;
        }
        now = next.dueNanos();
        while (!deadlines.isEmpty() && deadlines.peek().dueNanos() == now) {
          due.add(deadlines.poll());
        }
      }
      // Outside the lock: what fires runs the request's next step, which may register more.
      for (Deadline deadline : due) {
        deadline.sink().tryEmitEmpty();
      }
    }
  }
}
