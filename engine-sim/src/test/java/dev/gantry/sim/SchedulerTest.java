package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SchedulerTest {

  @Test
  void admitsUpToTheLimitThenQueuesInFifoOrder() {
    Scheduler scheduler = new Scheduler(2);
    List<Scheduler.Ticket> tickets = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      tickets.add(scheduler.enqueue());
    }

    assertThat(admitted(tickets)).containsExactly(0, 1);
    assertThat(scheduler.running()).isEqualTo(2);
    assertThat(scheduler.waiting()).isEqualTo(3);

    tickets.get(1).finish();
    assertThat(admitted(tickets)).containsExactly(0, 1, 2);
    tickets.get(0).finish();
    assertThat(admitted(tickets)).containsExactly(0, 1, 2, 3);
    assertThat(scheduler.running()).isEqualTo(2);
    assertThat(scheduler.waiting()).isEqualTo(1);
    assertThat(scheduler.maxRunning()).isEqualTo(2);
    assertThat(scheduler.maxInFlight()).as("running and waiting, at most").isEqualTo(5);
  }

  @Test
  void aWaitingTicketThatFinishesLeavesTheQueue() {
    Scheduler scheduler = new Scheduler(1);
    Scheduler.Ticket running = scheduler.enqueue();
    Scheduler.Ticket leaving = scheduler.enqueue();
    Scheduler.Ticket staying = scheduler.enqueue();

    leaving.finish();
    assertThat(scheduler.waiting()).isEqualTo(1);
    assertThat(scheduler.running()).isEqualTo(1);
    running.finish();

    assertThat(leaving.admitted()).isFalse();
    assertThat(staying.admitted()).isTrue();
    assertThat(scheduler.waiting()).isZero();
    assertThat(scheduler.running()).isEqualTo(1);
  }

  @Test
  void finishIsIdempotent() {
    Scheduler scheduler = new Scheduler(1);
    Scheduler.Ticket first = scheduler.enqueue();
    Scheduler.Ticket second = scheduler.enqueue();

    first.finish();
    first.finish();
    assertThat(scheduler.running()).isEqualTo(1);
    second.finish();
    second.finish();
    assertThat(scheduler.running()).isZero();
    assertThat(scheduler.waiting()).isZero();
  }

  @Test
  void newcomersDoNotOvertakeTheQueue() {
    Scheduler scheduler = new Scheduler(1);
    Scheduler.Ticket first = scheduler.enqueue();
    Scheduler.Ticket queued = scheduler.enqueue();
    first.finish();
    // `queued` now holds the slot; a newcomer must wait even though nobody else is queued
    Scheduler.Ticket newcomer = scheduler.enqueue();

    assertThat(newcomer.admitted()).isFalse();
    assertThat(scheduler.waiting()).isEqualTo(1);
    queued.finish();
    assertThat(newcomer.admitted()).isTrue();
  }

  @Test
  void aWaitingThreadGoesOnOnceItsTicketIsAdmitted() throws Exception {
    Scheduler scheduler = new Scheduler(1);
    Scheduler.Ticket first = scheduler.enqueue();
    Scheduler.Ticket second = scheduler.enqueue();
    Thread waiter =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    second.awaitAdmission();
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                });

    // Parked on its ticket: it cannot go on before a slot frees.
    await().atMost(Duration.ofSeconds(10)).until(() -> waiter.getState() == Thread.State.WAITING);
    assertThat(second.admitted()).isFalse();
    assertThat(waiter.isAlive()).isTrue();
    first.finish();
    assertThat(waiter.join(Duration.ofSeconds(10))).isTrue();
  }

  /** The indexes of the tickets that hold (or held) a slot. */
  private static List<Integer> admitted(List<Scheduler.Ticket> tickets) {
    List<Integer> admitted = new ArrayList<>();
    for (int i = 0; i < tickets.size(); i++) {
      if (tickets.get(i).admitted()) {
        admitted.add(i);
      }
    }
    return admitted;
  }
}
