package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.AutoscalingSpec;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.db.GatewayMember;
import dev.gantry.infra.db.RoutableDeployment;
import dev.gantry.infra.db.RoutableWorker;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import reactor.core.Disposable;
import reactor.test.scheduler.VirtualTimeScheduler;

/** Admission and routing decisions of one deployment, with virtual time for the waits. */
class DeploymentRouteTest {
  final VirtualTimeScheduler time = VirtualTimeScheduler.create();
  final AtomicInteger queuedSignals = new AtomicInteger();
  final List<Disposable> subscriptions = new ArrayList<>();

  @AfterEach
  void tearDown() {
    subscriptions.forEach(Disposable::dispose);
    time.dispose();
  }

  static RoutableDeployment deployment(
      int concurrency, Instant blockedAt, List<RoutableWorker> workers) {
    var spec =
        new DeploymentSpec(
            "chat",
            "tiny",
            Framework.SIM,
            null,
            0,
            4,
            concurrency,
            60,
            10,
            5,
            List.of(),
            List.of());
    return new RoutableDeployment("dep_1", "acme", spec, blockedAt, workers);
  }

  static RoutableWorker healthy(int n) {
    return new RoutableWorker(
        "dep_1-w" + n, WorkerStatus.HEALTHY, "http://127.0.0.1:" + (9000 + n));
  }

  static RoutableWorker starting(int n) {
    return new RoutableWorker("dep_1-w" + n, WorkerStatus.PROVISIONING, null);
  }

  DeploymentRoute route(RoutableDeployment d, int maxQueue) {
    return new DeploymentRoute(d, this::now, time, maxQueue);
  }

  long now() {
    return time.now(TimeUnit.MILLISECONDS);
  }

  /** Subscribes to an admission and records how it ended. */
  Outcome admit(DeploymentRoute route) {
    var outcome = new Outcome();
    subscriptions.add(
        route
            .admit(queuedSignals::incrementAndGet)
            .doOnDiscard(Lease.class, Lease::release)
            .subscribe(outcome.lease::set, outcome.error::set));
    return outcome;
  }

  static final class Outcome {
    final AtomicReference<Lease> lease = new AtomicReference<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();

    String worker() {
      return lease.get() == null ? null : lease.get().upstream.workerId;
    }

    HttpStatus status() {
      return error.get() instanceof InferenceException e ? e.status() : null;
    }
  }

  @Test
  void requestsPackOntoTheBusiestWorkerWithRoomAndNeverOverConcurrency() {
    var route = route(deployment(2, null, List.of(healthy(1), healthy(2))), 10);
    var first = admit(route);
    var second = admit(route);
    // Packed: the second worker stays idle, so the autoscaler can let it go.
    assertThat(List.of(first.worker(), second.worker())).containsExactly("dep_1-w1", "dep_1-w1");
    assertThat(admit(route).worker()).isEqualTo("dep_1-w2");
    admit(route);
    var fifth = admit(route);

    assertThat(fifth.lease.get()).as("four slots, all taken").isNull();
    assertThat(route.demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(4, 1, 0));
    assertThat(queuedSignals).hasValue(1);
    assertThat(route.upstreams()).allMatch(u -> u.inFlight == 2);
  }

  @Test
  void aWaitingRequestThatNeedsAWorkerMoreThanLastReportedSignalsAtOnce() {
    var route = route(deployment(2, null, List.of(starting(1))), 10);
    admit(route);
    assertThat(queuedSignals).as("the first to wait").hasValue(1);
    route.lastReportedNeed = 1; // what the reporter then sent

    admit(route);
    assertThat(queuedSignals).as("two waiting still need one worker of 2 slots").hasValue(1);
    admit(route);
    assertThat(queuedSignals).as("three need two").hasValue(2);
    route.lastReportedNeed = 2;
    admit(route);
    assertThat(queuedSignals).hasValue(2);
    admit(route);
    assertThat(queuedSignals).hasValue(3);
    route.lastReportedNeed = 4; // max_workers: the reporter said all a flood can ask for

    // Beyond max_workers a rise changes nothing: however many more wait, no more signals.
    for (int i = 0; i < 5; i++) {
      admit(route);
    }
    assertThat(route.demand().queued()).isEqualTo(10);
    assertThat(queuedSignals).hasValue(3);
  }

  @Test
  void routingFillsWorkersUpToTheTargetUtilizationThenSpreads() {
    var spec =
        deployment(4, null, List.of())
            .spec()
            .withAutoscaling(new AutoscalingSpec(0.5, null, null, null));
    var route =
        route(
            new RoutableDeployment(
                "dep_1", "acme", spec, null, List.of(healthy(1), healthy(2), healthy(3))),
            10);
    List<String> placed = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      placed.add(admit(route).worker());
    }
    // Two per worker (half of concurrency 4) oldest first, then the least loaded.
    assertThat(placed)
        .containsExactly(
            "dep_1-w1",
            "dep_1-w1",
            "dep_1-w2",
            "dep_1-w2",
            "dep_1-w3",
            "dep_1-w3",
            "dep_1-w1",
            "dep_1-w2");
  }

  @Test
  void oldestWaitIsReportedWithTheDemand() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10);
    admit(route);
    admit(route);
    time.advanceTimeBy(java.time.Duration.ofMillis(750));
    admit(route);

    assertThat(route.demand()).isEqualTo(new DeploymentRoute.Demand(1, 2, 750));
  }

  /**
   * With two gateways in the view, this one has half of every worker's slots: its demand is
   * reported, and its workers needed counted, as twice its requests (the autoscaler takes the
   * largest gateway report, docs/architecture.md).
   */
  @Test
  void aGatewayWithHalfOfEachWorkerReportsItsDemandScaledToTheWholeDeployment() {
    var one = new SlotPartition("gw-a", 5_000);
    var two = new SlotPartition("gw-b", 5_000);
    var table = new java.util.TreeMap<String, GatewayMember>();
    for (int round = 0; round < 3; round++) {
      for (var gateway : List.of(one, two)) {
        var own = gateway.observe(new ArrayList<>(table.values()), round, view -> true);
        table.put(own.id(), own);
      }
    }
    assertThat(one.members()).isEqualTo(2);
    var route =
        new DeploymentRoute(deployment(4, null, List.of(healthy(1))), this::now, time, 10, one);
    admit(route);
    admit(route);
    admit(route);

    assertThat(route.demand()).isEqualTo(new DeploymentRoute.Demand(2, 1, 0));
    assertThat(route.asWhole(route.demand())).isEqualTo(new DeploymentRoute.Demand(4, 2, 0));
    // 3 requests at half of concurrency 4 need two workers, where one whole worker would do.
    assertThat(route.workersNeeded(3)).isEqualTo(2);
    assertThat(route(deployment(4, null, List.of(healthy(1))), 10).workersNeeded(3)).isEqualTo(1);
  }

  @Test
  void waitingRequestsGetFreedSlotsInArrivalOrder() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10);
    var running = admit(route);
    var a = admit(route);
    var b = admit(route);

    running.lease.get().release();
    assertThat(a.worker()).isEqualTo("dep_1-w1");
    assertThat(b.lease.get()).isNull();

    a.lease.get().release();
    a.lease.get().release(); // a second release of the same lease changes nothing
    assertThat(b.worker()).isEqualTo("dep_1-w1");
    assertThat(route.demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(1, 0, 0));
  }

  /** Re-admits a request whose worker could not be reached, as the relay does. */
  Outcome readmit(DeploymentRoute route, long waitMillis) {
    var outcome = new Outcome();
    subscriptions.add(
        route
            .readmit(waitMillis)
            .doOnDiscard(Lease.class, Lease::release)
            .subscribe(outcome.lease::set, outcome.error::set));
    return outcome;
  }

  @Test
  void aRequestWhoseWorkerDiedWaitsAgainAtTheHeadOfTheQueueForWhatIsLeftOfItsWait() {
    var route = route(deployment(1, null, List.of(healthy(1), healthy(2))), 1);
    var onDead = admit(route);
    var onLive = admit(route);
    var waiting = admit(route);
    assertThat(List.of(onDead.worker(), onLive.worker()))
        .containsExactlyInAnyOrder("dep_1-w1", "dep_1-w2");
    var dead = onDead.lease.get().upstream;

    // Its worker is kept out before its slot is freed; the request waits again, past a full queue.
    route.markUnreachable(dead, 60_000);
    var again = readmit(route, 3_000);
    onDead.lease.get().release();
    assertThat(again.lease.get()).as("nothing on the dead worker").isNull();
    assertThat(waiting.lease.get()).isNull();
    assertThat(route.demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(1, 2, 0));

    onLive.lease.get().release();
    assertThat(again.worker()).as("ahead of the queue").isEqualTo(onLive.worker());
    assertThat(waiting.lease.get()).isNull();

    // A re-admitted wait is bounded by what it is given, not by a fresh wait time.
    var late = readmit(route, 2_000);
    time.advanceTimeBy(Duration.ofSeconds(2));
    assertThat(late.status()).isEqualTo(HttpStatus.REQUEST_TIMEOUT);
    assertThat(waiting.error.get()).as("still within its 10 s").isNull();
  }

  @Test
  void aFullQueueAnswers429AndChangesNothing() {
    var route = route(deployment(1, null, List.of(healthy(1))), 2);
    admit(route);
    admit(route);
    admit(route);
    var rejected = admit(route);

    assertThat(rejected.status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
    assertThat(route.demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(1, 2, 0));
  }

  @Test
  void waitingOutWhileAWorkerIsStartingAnswers504() {
    var route = route(deployment(1, null, List.of(starting(1))), 10);
    var waiting = admit(route);

    time.advanceTimeBy(Duration.ofMillis(9_999));
    assertThat(waiting.error.get()).isNull();
    time.advanceTimeBy(Duration.ofMillis(1));

    assertThat(waiting.status()).isEqualTo(HttpStatus.GATEWAY_TIMEOUT);
    assertThat(route.demand().queued()).isZero();
  }

  @Test
  void waitingOutBehindBusyHealthyWorkersAnswers408() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10);
    admit(route);
    var waiting = admit(route);

    time.advanceTimeBy(Duration.ofSeconds(10));

    assertThat(waiting.status()).isEqualTo(HttpStatus.REQUEST_TIMEOUT);
  }

  @Test
  void aRefusedScaleUpAnswersTheRequestsThatWaitedForIt503AtOnce() {
    var route = route(deployment(1, null, List.of()), 10);
    var waiting = admit(route);
    time.advanceTimeBy(Duration.ofSeconds(1));

    route.refresh(deployment(1, Instant.ofEpochMilli(now()), List.of()));

    assertThat(waiting.status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
    // A request that arrives later waits for the retry its own demand triggers.
    time.advanceTimeBy(Duration.ofSeconds(1));
    var later = admit(route);
    route.refresh(deployment(1, Instant.ofEpochMilli(now() - 1), List.of()));
    assertThat(later.error.get()).isNull();
    route.refresh(deployment(1, null, List.of(healthy(1))));
    assertThat(later.worker()).isEqualTo("dep_1-w1");
  }

  @Test
  void waitingOutAfterARefusalBehindBusyWorkersAnswers503() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10);
    admit(route);
    var waiting = admit(route);
    route.refresh(deployment(1, Instant.ofEpochMilli(now()), List.of(healthy(1))));
    assertThat(waiting.error.get()).as("a busy worker may still free up").isNull();

    time.advanceTimeBy(Duration.ofSeconds(10));

    assertThat(waiting.status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
  }

  @Test
  void aWorkerThatBecomesHealthyServesTheQueueAndADrainingOneGetsNothingNew() {
    var route = route(deployment(2, null, List.of(starting(1))), 10);
    var a = admit(route);
    var b = admit(route);
    var c = admit(route);

    route.refresh(deployment(2, null, List.of(healthy(1))));
    assertThat(a.worker()).isEqualTo("dep_1-w1");
    assertThat(b.worker()).isEqualTo("dep_1-w1");
    assertThat(c.lease.get()).isNull();

    var draining = new RoutableWorker("dep_1-w1", WorkerStatus.DRAINING, "http://127.0.0.1:9001");
    route.refresh(deployment(2, null, List.of(draining, healthy(2))));
    assertThat(c.worker()).isEqualTo("dep_1-w2");
    a.lease.get().release();
    var d = admit(route);
    assertThat(d.worker()).isEqualTo("dep_1-w2");
    assertThat(admit(route).lease.get()).as("w2 is full, w1 takes nothing new").isNull();
    assertThat(route.inFlightOf("dep_1-w1")).as("the draining worker still has b").isEqualTo(1);
    b.lease.get().release();
    assertThat(route.inFlightOf("dep_1-w1")).isZero();
    assertThat(route.upstreams()).extracting(u -> u.workerId).containsExactly("dep_1-w2");
  }

  @Test
  void aWorkerIdThatComesBackOnAnotherEndpointIsRoutedToTheNewOne() {
    var route = route(deployment(2, null, List.of(healthy(1))), 10);
    var old = admit(route);
    assertThat(old.lease.get().upstream.baseUrl).isEqualTo("http://127.0.0.1:9001");

    // After a crash the id was reused by an engine on another port.
    var moved = new RoutableWorker("dep_1-w1", WorkerStatus.HEALTHY, "http://127.0.0.1:9101/");
    route.refresh(deployment(2, null, List.of(moved)));

    var next = admit(route);
    assertThat(next.lease.get().upstream.baseUrl).isEqualTo("http://127.0.0.1:9101");
    assertThat(route.inFlightOf("dep_1-w1")).as("only the new endpoint's request").isEqualTo(1);
    // The old endpoint's request ends without touching the new entry.
    old.lease.get().release();
    assertThat(route.inFlightOf("dep_1-w1")).isEqualTo(1);
    assertThat(route.upstreams())
        .extracting(u -> u.baseUrl)
        .containsExactly("http://127.0.0.1:9101");
    next.lease.get().release();
    assertThat(route.inFlightOf("dep_1-w1")).isZero();
  }

  @Test
  void aClientThatLeavesTheQueueIsForgottenAndASlotHandedToALeaverComesBack() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10);
    var running = admit(route);
    var leaver = admit(route);
    var next = admit(route);

    subscriptions.get(1).dispose();
    assertThat(route.demand().queued()).isEqualTo(1);
    running.lease.get().release();

    assertThat(leaver.lease.get()).isNull();
    assertThat(next.worker()).isEqualTo("dep_1-w1");
    next.lease.get().release();
    assertThat(route.demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(0, 0, 0));
  }

  @Test
  void anUnreachableWorkerIsSkippedForTheRetryAndForItsCooldown() {
    var route = route(deployment(1, null, List.of(healthy(1), healthy(2))), 10);
    var first = admit(route);
    var failed = first.lease.get().upstream;
    route.markUnreachable(failed, 5_000);
    first.lease.get().release();

    var retry = route.tryAcquireOther(failed);
    assertThat(retry.upstream).isNotSameAs(failed);
    assertThat(route.tryAcquireOther(failed)).as("the other one is full now").isNull();
    time.advanceTimeBy(Duration.ofSeconds(5));
    assertThat(admit(route).lease.get().upstream).isSameAs(failed);
  }

  @Test
  void aDeploymentThatStopsRunningAnswersItsQueue404() {
    var route = route(deployment(1, null, List.of(starting(1))), 10);
    var waiting = admit(route);

    route.remove();

    assertThat(waiting.status()).isEqualTo(HttpStatus.NOT_FOUND);
    assertThat(admit(route).status()).isEqualTo(HttpStatus.NOT_FOUND);
  }

  /** deployment(): max_workers 4, wait_time_seconds 10. */
  @Test
  void aBurstWaitsInLineWhileNothingSaysItCannotBeServedInTime() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10_000);
    admit(route);

    // No slot has been given back yet: nothing says how long requests hold one.
    var waiting = new ArrayList<Outcome>();
    for (int i = 0; i < 1_000; i++) {
      waiting.add(admit(route));
    }

    assertThat(waiting).allSatisfy(o -> assertThat(o.error.get()).isNull());
    assertThat(route.demand().queued()).isEqualTo(1_000);
  }

  @Test
  void aRequestThatCouldNotBeServedWithinItsWaitTimeAtFullScaleIs429() {
    // One slot per worker, four workers at most, ten seconds to wait.
    var route = route(deployment(1, null, List.of(healthy(1))), 10_000);
    var first = admit(route);
    time.advanceTimeBy(Duration.ofSeconds(8));
    first.lease.get().release();

    // Requests hold a slot 8 s: at full scale (4 slots) a slot frees every 2 s, so the fifth in
    // line gets one after about 10 s, the sixth would not within its 10 s.
    var running = admit(route);
    assertThat(running.lease.get()).isNotNull();
    var inLine = new ArrayList<Outcome>();
    for (int i = 0; i < 5; i++) {
      inLine.add(admit(route));
    }
    var sixth = admit(route);

    assertThat(inLine).allSatisfy(o -> assertThat(o.error.get()).isNull());
    assertThat(sixth.status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
    assertThat(route.demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(1, 5, 0));
  }

  @Test
  void shorterRequestsLetMoreWait() {
    var route = route(deployment(1, null, List.of(healthy(1))), 10_000);
    for (int i = 0; i < 20; i++) {
      var one = admit(route);
      time.advanceTimeBy(Duration.ofMillis(100));
      one.lease.get().release();
    }

    // 100 ms per request, 4 slots at full scale: 400 may wait 10 s, the 401st not.
    admit(route);
    var inLine = new ArrayList<Outcome>();
    for (int i = 0; i < 400; i++) {
      inLine.add(admit(route));
    }

    assertThat(inLine).allSatisfy(o -> assertThat(o.error.get()).isNull());
    assertThat(admit(route).status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
  }
}
