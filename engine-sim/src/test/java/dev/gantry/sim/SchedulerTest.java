package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SchedulerTest {

  @Test
  void admitsUpToTheLimitThenQueuesInFifoOrder() {
    Scheduler scheduler = new Scheduler(2);
    List<Integer> admitted = new ArrayList<>();
    List<Scheduler.Ticket> tickets = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      int id = i;
      Scheduler.Ticket ticket = scheduler.enqueue();
      ticket.admitted().subscribe(null, null, () -> admitted.add(id));
      tickets.add(ticket);
    }

    assertThat(admitted).containsExactly(0, 1);
    assertThat(scheduler.running()).isEqualTo(2);
    assertThat(scheduler.waiting()).isEqualTo(3);

    tickets.get(1).finish();
    assertThat(admitted).containsExactly(0, 1, 2);
    tickets.get(0).finish();
    assertThat(admitted).containsExactly(0, 1, 2, 3);
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
    List<String> admitted = new ArrayList<>();
    leaving.admitted().subscribe(null, null, () -> admitted.add("leaving"));
    staying.admitted().subscribe(null, null, () -> admitted.add("staying"));

    leaving.finish();
    assertThat(scheduler.waiting()).isEqualTo(1);
    assertThat(scheduler.running()).isEqualTo(1);
    running.finish();

    assertThat(admitted).containsExactly("staying");
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
    List<String> admitted = new ArrayList<>();
    newcomer.admitted().subscribe(null, null, () -> admitted.add("newcomer"));

    assertThat(admitted).isEmpty();
    assertThat(scheduler.waiting()).isEqualTo(1);
    queued.finish();
    assertThat(admitted).containsExactly("newcomer");
  }
}
