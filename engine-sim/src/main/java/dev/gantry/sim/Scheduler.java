package dev.gantry.sim;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.LongSupplier;

/**
 * An admission gate in the spirit of an engine's batch scheduler: at most {@code limit} tickets run
 * at once, the others wait in FIFO order. A request's (virtual) thread waits for its ticket in
 * {@link Ticket#awaitAdmission()}; the lock is held only to update counts, never while waiting.
 */
final class Scheduler {

  private enum State {
    WAITING,
    RUNNING,
    DONE
  }

  /** One request's place in the scheduler. {@link #finish} it exactly when it ends. */
  final class Ticket {
    private final CountDownLatch admission = new CountDownLatch(1);
    private State state; // guarded by Scheduler.this
    private long admittedAtNanos; // guarded by Scheduler.this

    /**
     * When the ticket took its slot, on the scheduler's clock; stamped under the lock, so it is
     * fixed before {@link #running()} counts the ticket. Meaningful once admitted.
     */
    long admittedAtNanos() {
      synchronized (Scheduler.this) {
        return admittedAtNanos;
      }
    }

    /** Returns when the ticket may run (at once if a slot was free). */
    void awaitAdmission() throws InterruptedException {
      admission.await();
    }

    /** Whether the ticket holds a slot now or held one before it finished. */
    boolean admitted() {
      return admission.getCount() == 0;
    }

    /** Frees the slot, or leaves the queue if still waiting; idempotent. */
    void finish() {
      Scheduler.this.finish(this);
    }
  }

  private final int limit;
  private final LongSupplier clock;
  private final ArrayDeque<Ticket> queue = new ArrayDeque<>();
  private int running;
  private int maxRunning;
  private int maxInFlight;

  Scheduler(int limit) {
    this(limit, System::nanoTime);
  }

  /**
   * @param clock stamps each ticket's admission ({@link Ticket#admittedAtNanos()})
   */
  Scheduler(int limit, LongSupplier clock) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be >= 1");
    }
    this.limit = limit;
    this.clock = clock;
  }

  /** Takes a slot if one is free and nobody is waiting, otherwise joins the end of the queue. */
  Ticket enqueue() {
    Ticket ticket = new Ticket();
    boolean admittedNow;
    synchronized (this) {
      admittedNow = running < limit && queue.isEmpty();
      if (admittedNow) {
        run(ticket);
      } else {
        ticket.state = State.WAITING;
        queue.addLast(ticket);
      }
      maxInFlight = Math.max(maxInFlight, running + queue.size());
    }
    if (admittedNow) {
      ticket.admission.countDown();
    }
    return ticket;
  }

  private void finish(Ticket ticket) {
    List<Ticket> admitted = new ArrayList<>(1);
    synchronized (this) {
      switch (ticket.state) {
        case WAITING -> queue.remove(ticket);
        case RUNNING -> running--;
        case DONE -> {
          return;
        }
      }
      ticket.state = State.DONE;
      while (running < limit && !queue.isEmpty()) {
        Ticket next = queue.pollFirst();
        run(next);
        admitted.add(next);
      }
    }
    for (Ticket next : admitted) {
      next.admission.countDown();
    }
  }

  private void run(Ticket ticket) {
    ticket.state = State.RUNNING;
    ticket.admittedAtNanos = clock.getAsLong();
    running++;
    maxRunning = Math.max(maxRunning, running);
  }

  synchronized int running() {
    return running;
  }

  synchronized int waiting() {
    return queue.size();
  }

  synchronized int maxRunning() {
    return maxRunning;
  }

  /**
   * The most requests ever held at once, running and waiting: what callers sent concurrently, which
   * {@link #maxRunning} (capped by the limit) cannot show.
   */
  synchronized int maxInFlight() {
    return maxInFlight;
  }

  int limit() {
    return limit;
  }
}
