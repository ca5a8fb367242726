package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.bench.IdealAutoscaler.Job;
import dev.gantry.bench.IdealAutoscaler.Result;
import dev.gantry.bench.IdealAutoscaler.Settings;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Small cases computed by hand; times in milliseconds. */
class IdealAutoscalerTest {

  private static Result run(List<Job> jobs, int concurrency, int maxWorkers, long idle) {
    return IdealAutoscaler.run(jobs, new Settings(concurrency, 0, maxWorkers, idle), 0);
  }

  @Test
  void oneRequestCostsItsDurationPlusTheIdleTimeout() {
    Result r = run(List.of(new Job(0, 100)), 1, 8, 1000);

    assertThat(r).isEqualTo(new Result(1, 1100, 1, 0));
  }

  @Test
  void nothingToDoCostsNothing() {
    assertThat(run(List.of(), 4, 8, 1000)).isEqualTo(new Result(0, 0, 0, 0));
  }

  @Test
  void aSecondWorkerStartsWhenTheFirstHasNoFreeSlot() {
    // w1: 0 .. idle at 100 .. reaped 1100; w2: 50 .. idle at 150 .. reaped 1150.
    Result r = run(List.of(new Job(0, 100), new Job(50, 100)), 1, 8, 1000);

    assertThat(r).isEqualTo(new Result(2, 2200, 2, 0));
  }

  @Test
  void requestsShareAWorkerUpToItsConcurrency() {
    // Both on w1, idle at 150, reaped at 1150.
    Result r = run(List.of(new Job(0, 100), new Job(50, 100)), 2, 8, 1000);

    assertThat(r).isEqualTo(new Result(1, 1150, 1, 0));
  }

  @Test
  void anIdleWorkerIsReusedBeforeItsTimeoutRunsOut() {
    // w1 idle at 100, reused at 500, idle at 600, reaped at 1600.
    Result r = run(List.of(new Job(0, 100), new Job(500, 100)), 1, 8, 1000);

    assertThat(r).isEqualTo(new Result(1, 1600, 1, 0));
  }

  @Test
  void aWorkerIdleForTheFullTimeoutIsGoneForARequestArrivingThen() {
    // w1: 0 .. reaped at 1100 = the second arrival, which starts w2: 1100 .. 1200 .. 2200.
    Result r = run(List.of(new Job(0, 100), new Job(1100, 100)), 1, 8, 1000);

    assertThat(r).isEqualTo(new Result(2, 2200, 1, 0));
  }

  @Test
  void aSlotFreedAtTheInstantARequestArrivesTakesIt() {
    // The second request arrives as the first ends: w1 serves both, idle at 200, reaped at 1200.
    Result r = run(List.of(new Job(0, 100), new Job(100, 100)), 1, 8, 1000);

    assertThat(r).isEqualTo(new Result(1, 1200, 1, 0));
  }

  @Test
  void aRequestGoesToTheBusiestWorkerWithRoom() {
    // Concurrency 3. w1 is full with three requests until 1000-1002; w2 starts at 500 for one
    // request (until 1500). At 1000 w1 has 2 in flight, w2 has 1: the long request goes to w1.
    // w1: 0 .. 6000 + 100 = 6100; w2: 500 .. 1500 + 100 = 1100; 7200 in all.
    // (Onto the least busy w2 it would be 1102 + 5600 = 6702.)
    List<Job> jobs =
        List.of(
            new Job(0, 1000),
            new Job(1, 1001),
            new Job(2, 1000),
            new Job(500, 1000),
            new Job(1000, 5000));

    Result r = run(jobs, 3, 8, 100);

    assertThat(r).isEqualTo(new Result(2, 7200, 2, 0));
  }

  @Test
  void atMaxWorkersARequestWaitsForTheFirstFreeSlot() {
    // One worker at most: the second request waits from 50 to 100, ends at 200; reaped at 300.
    Result r = run(List.of(new Job(0, 100), new Job(50, 100), new Job(60, 10)), 1, 1, 100);

    // The third waits behind the second (first come, first served): 200 .. 210, reaped at 310.
    assertThat(r).isEqualTo(new Result(1, 310, 1, 2));
  }

  @Test
  void minWorkersRunTheWholeRunAndAreNotCountedAsStarted() {
    // w0 (permanent) serves the first request; the second finds it busy and starts w1 at 10,
    // idle at 60, reaped at 160. w0 runs 0 .. 10 000.
    Result r =
        IdealAutoscaler.run(
            List.of(new Job(0, 50), new Job(10, 50)), new Settings(1, 1, 8, 100), 10_000);

    assertThat(r).isEqualTo(new Result(1, 10_150, 2, 0));
  }

  @Test
  void settingsAreChecked() {
    assertThatThrownBy(() -> new Settings(0, 0, 1, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Settings(1, 2, 1, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Settings(1, 0, 1, -1))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
