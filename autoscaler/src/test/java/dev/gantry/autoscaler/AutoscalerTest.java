package dev.gantry.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class AutoscalerTest {
  /** min 0, max 8, concurrency 16 at 0.75 (12 requests per worker), 60 s delay, no extras. */
  private static final ScalingPolicy POLICY = new ScalingPolicy(0, 8, 16, 0.75, 60_000, 0, 0);

  private static final Fleet NONE = new Fleet(0, 0);

  @Test
  void aBurstStartsTheWorkersItNeedsAtTheTargetUtilization() {
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, new Demand(0, 40, 0), NONE);

    var decision = scaler.decide(POLICY, 0, NONE);

    assertThat(decision.desired()).isEqualTo(4); // ceil(40 / 12)
    assertThat(decision.toStart()).isEqualTo(4);
  }

  @Test
  void workersAlreadyStartingAreCountedNotStartedAgain() {
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, new Demand(0, 40, 0), NONE);
    // The same burst reported again a second later, while its four workers boot.
    scaler = scaler.observe(POLICY, 1_000, new Demand(0, 40, 1_000), new Fleet(4, 0));

    assertThat(scaler.decide(POLICY, 1_000, new Fleet(4, 0)).toStart()).isZero();
    // A bigger burst starts only the difference.
    scaler = scaler.observe(POLICY, 2_000, new Demand(0, 60, 2_000), new Fleet(4, 0));
    assertThat(scaler.decide(POLICY, 2_000, new Fleet(4, 0)).toStart()).isEqualTo(1);
  }

  @Test
  void aLullShorterThanTheDelayKeepsThePeaksWorkers() {
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, new Demand(50, 0, 0), new Fleet(0, 5));
    scaler = scaler.observe(POLICY, 10_000, new Demand(0, 0, 0), new Fleet(0, 5));

    var decision = scaler.decide(POLICY, 59_999, new Fleet(0, 5));
    assertThat(decision.desired()).isEqualTo(5);
    assertThat(decision.reviewAtMillis()).isEqualTo(60_000);
    // The window has passed: demand is zero now, so the deployment may go to zero.
    assertThat(scaler.decide(POLICY, 60_000, new Fleet(0, 5)).desired()).isZero();
    assertThat(scaler.decide(POLICY, 60_000, new Fleet(0, 5)).reviewAtMillis())
        .isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void theWindowStepsDownThroughLowerPeaks() {
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, new Demand(90, 0, 0), NONE); // 8
    scaler = scaler.observe(POLICY, 20_000, new Demand(30, 0, 0), NONE); // 3
    scaler = scaler.observe(POLICY, 40_000, new Demand(0, 0, 0), NONE); // 0

    assertThat(scaler.decide(POLICY, 59_000, NONE).desired()).isEqualTo(8);
    assertThat(scaler.decide(POLICY, 60_000, NONE).desired()).isEqualTo(3);
    assertThat(scaler.decide(POLICY, 60_000, NONE).reviewAtMillis()).isEqualTo(80_000);
    assertThat(scaler.decide(POLICY, 80_000, NONE).desired()).isZero();
  }

  @Test
  void demandExpiresAfterTheDelayEvenWithoutAnotherReport() {
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, new Demand(30, 0, 0), NONE);

    assertThat(scaler.decide(POLICY, 59_999, NONE).desired()).isEqualTo(3);
    assertThat(scaler.decide(POLICY, 59_999, NONE).reviewAtMillis()).isEqualTo(60_000);
    // Busy workers are not reaped anyway; idle ones may go once nobody said they are needed.
    assertThat(scaler.decide(POLICY, 60_000, NONE).desired()).isZero();
  }

  @Test
  void theStaircaseStaysBoundedByMaxWorkers() {
    var scaler = Autoscaler.IDLE;
    // Demand rising and falling many times within one window.
    for (int i = 0; i < 10_000; i++) {
      int requests = (i * 37) % 120;
      scaler = scaler.observe(POLICY, i, new Demand(requests, 0, 0), NONE);
    }
    assertThat(scaler.peaks()).hasSizeLessThanOrEqualTo(POLICY.maxWorkers() + 1);
    assertThat(scaler.decide(POLICY, 10_000, NONE).desired()).isEqualTo(8);
  }

  @Test
  void demandBeyondMaxWorkersAsksForMaxWorkers() {
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, new Demand(0, 5_000, 0), NONE);

    assertThat(scaler.decide(POLICY, 0, NONE).desired()).isEqualTo(8);
    assertThat(scaler.peaks()).containsExactly(new Autoscaler.Peak(0, 8));
  }

  @Test
  void theAutomaticDelayIsTheRecentColdStart() {
    var auto = new ScalingPolicy(0, 8, 16, 1.0, ScalingPolicy.AUTO_DELAY, 0, 0);
    var scaler = Autoscaler.IDLE.coldStarted(4_000).coldStarted(2_000); // 4000 + 0.3 x -2000
    assertThat(scaler.coldStartMillis()).isEqualTo(3_400);
    scaler = scaler.observe(auto, 0, new Demand(40, 0, 0), NONE);
    scaler = scaler.observe(auto, 1_000, new Demand(0, 0, 0), NONE);

    assertThat(scaler.decide(auto, 3_399, NONE).desired()).isEqualTo(3);
    assertThat(scaler.decide(auto, 3_399, NONE).reviewAtMillis()).isEqualTo(3_400);
    assertThat(scaler.decide(auto, 3_400, NONE).desired()).isZero();
    // Before any worker started, nothing is kept beyond the demand of the moment, which still
    // starts its workers.
    var fresh = Autoscaler.IDLE.observe(auto, 0, new Demand(40, 0, 0), NONE);
    assertThat(fresh.decide(auto, 0, NONE).toStart()).isEqualTo(3);
    assertThat(fresh.decide(auto, 0, NONE).reviewAtMillis()).isEqualTo(1);
    assertThat(fresh.observe(auto, 1, new Demand(0, 0, 0), NONE).decide(auto, 1, NONE).desired())
        .isZero();
  }

  @Test
  void minWorkersStayAtRest() {
    var policy = new ScalingPolicy(2, 8, 16, 0.75, 60_000, 0, 0);

    assertThat(Autoscaler.IDLE.decide(policy, 0, NONE).desired()).isEqualTo(2);
    assertThat(Autoscaler.IDLE.decide(policy, 0, NONE).toStart()).isEqualTo(2);
  }

  @Test
  void theWarmBufferRunsAboveDemandOnlyWhileTheDeploymentIsInUse() {
    var policy = new ScalingPolicy(0, 8, 16, 0.75, 60_000, 1, 0);
    var scaler = Autoscaler.IDLE.observe(policy, 0, new Demand(10, 0, 0), NONE);
    scaler = scaler.observe(policy, 5_000, new Demand(0, 0, 0), new Fleet(0, 2));

    assertThat(scaler.decide(policy, 5_000, new Fleet(0, 2)).desired()).isEqualTo(2);
    assertThat(scaler.decide(policy, 60_000, new Fleet(0, 2)).desired()).isZero();
    // Bounded by max_workers like everything else.
    var full = Autoscaler.IDLE.observe(policy, 0, new Demand(96, 0, 0), NONE);
    assertThat(full.decide(policy, 0, NONE).desired()).isEqualTo(8);
  }

  @Test
  void requestsWaitingPastTheQueueDelayStartOneMoreWorkerWhenNoneIsStarting() {
    var policy = new ScalingPolicy(0, 8, 16, 1.0, 60_000, 0, 500);
    // Two workers are full by slot count but the queue moves too slowly.
    var demand = new Demand(32, 4, 800);

    var idleFleet = Autoscaler.IDLE.observe(policy, 0, demand, new Fleet(0, 3));
    assertThat(idleFleet.decide(policy, 0, new Fleet(0, 3)).desired()).isEqualTo(4);
    // Not while one is starting: that worker is the answer already.
    var booting = Autoscaler.IDLE.observe(policy, 0, demand, new Fleet(1, 2));
    assertThat(booting.decide(policy, 0, new Fleet(1, 2)).desired()).isEqualTo(3);
    // Not before the delay.
    var young = Autoscaler.IDLE.observe(policy, 0, new Demand(32, 4, 499), new Fleet(0, 3));
    assertThat(young.decide(policy, 0, new Fleet(0, 3)).desired()).isEqualTo(3);
  }

  @Test
  void theWorkersThatMayGoAreTheNewestBeyondTheDesiredCount() {
    assertThat(Autoscaler.mayGo(2, List.of(1, 2, 3, 4))).containsExactly(3, 4);
    assertThat(Autoscaler.mayGo(4, List.of(1, 2, 3))).isEmpty();
    assertThat(Autoscaler.mayGo(0, List.of(1))).containsExactly(1);
  }

  @Test
  void targetSlotsRoundDownAndNeverReachZero() {
    assertThat(new ScalingPolicy(0, 1, 16, 0.75, 0, 0, 0).targetSlots()).isEqualTo(12);
    assertThat(new ScalingPolicy(0, 1, 10, 0.7, 0, 0, 0).targetSlots()).isEqualTo(7);
    assertThat(new ScalingPolicy(0, 1, 1, 0.1, 0, 0, 0).targetSlots()).isEqualTo(1);
    assertThat(new ScalingPolicy(0, 1, 16, 1.0, 0, 0, 0).targetSlots()).isEqualTo(16);
  }

  @Test
  void aPolicyOutsideItsBoundsIsRefused() {
    assertThatThrownBy(() -> new ScalingPolicy(0, 1, 1, 0, 0, 0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("target utilization");
    assertThatThrownBy(() -> new ScalingPolicy(0, 1, 1, 1.5, 0, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ScalingPolicy(0, 1, 1, 0.5, -2, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ScalingPolicy(3, 2, 1, 0.5, 0, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------ several gateways

  /** No delay window: each decision shows the demand of the last report alone. */
  private static final ScalingPolicy NO_DELAY = new ScalingPolicy(0, 8, 16, 0.75, 0, 0, 0);

  @Test
  void evenTrafficOverTwoGatewaysIsObservedOnceNotTwice() {
    // Each of two gateways has 24 waiting and half of every worker's slots: each reports 48, the
    // workers it alone needs for its 24.
    var scaler = Autoscaler.IDLE.observe(POLICY, 0, "gateway-a", new Demand(0, 48, 0), NONE);
    scaler = scaler.observe(POLICY, 100, "gateway-b", new Demand(0, 48, 300), NONE);

    assertThat(scaler.decide(POLICY, 100, NONE).desired()).isEqualTo(4); // ceil(48 / 12)
  }

  @Test
  void aBurstOnOneGatewayIsNotDilutedByAnIdleOne() {
    var scaler = Autoscaler.IDLE.observe(NO_DELAY, 0, "gateway-a", new Demand(0, 60, 0), NONE);
    // The other gateway's report comes later and sees nothing: a's burst still counts.
    scaler = scaler.observe(NO_DELAY, 500, "gateway-b", new Demand(0, 0, 0), NONE);

    assertThat(scaler.decide(NO_DELAY, 500, NONE).desired()).isEqualTo(5);
  }

  @Test
  void aGatewaysNewReportReplacesItsOldOne() {
    var scaler = Autoscaler.IDLE.observe(NO_DELAY, 0, "gateway-a", new Demand(60, 0, 0), NONE);
    scaler = scaler.observe(NO_DELAY, 1_000, "gateway-b", new Demand(24, 0, 0), NONE);
    assertThat(scaler.decide(NO_DELAY, 1_000, NONE).desired()).isEqualTo(5);

    // a's demand fell below b's: b's is the largest now.
    scaler = scaler.observe(NO_DELAY, 2_000, "gateway-a", new Demand(12, 0, 0), NONE);
    assertThat(scaler.decide(NO_DELAY, 2_000, NONE).desired()).isEqualTo(2);
    assertThat(scaler.sources()).containsOnlyKeys("gateway-a", "gateway-b");
    assertThat(scaler.sources().get("gateway-a"))
        .isEqualTo(new Autoscaler.Reported(2_000, new Demand(12, 0, 0)));
  }

  @Test
  void theQueueDelayCountsTheLongestWaitOfAnyGateway() {
    var policy = new ScalingPolicy(0, 8, 16, 1.0, 0, 0, 500);
    var fleet = new Fleet(0, 1);
    var scaler = Autoscaler.IDLE.observe(policy, 0, "gateway-a", new Demand(15, 1, 800), fleet);
    scaler = scaler.observe(policy, 10, "gateway-b", new Demand(15, 1, 100), fleet);

    // a's request has waited past the queue delay: one worker more than the fleet has.
    assertThat(scaler.decide(policy, 10, fleet).desired()).isEqualTo(2);
  }

  @Test
  void anotherGatewaysWaitCountsOnlyWhileItsReportIsFresh() {
    var policy = new ScalingPolicy(0, 8, 16, 1.0, 0, 0, 500);
    var fleet = new Fleet(0, 1);
    var scaler = Autoscaler.IDLE.observe(policy, 0, "gateway-a", new Demand(15, 1, 800), fleet);
    // a reports every second while its requests wait: three seconds on, its queue may be gone.
    long later = Autoscaler.QUEUED_REPORT_FRESH_MILLIS + 1_000;
    scaler = scaler.observe(policy, later, "gateway-b", new Demand(15, 1, 100), fleet);

    assertThat(scaler.decide(policy, later, fleet).desired()).isEqualTo(1);
  }

  @Test
  void aGatewaySilentLongerThanItsReportsCountIsForgotten() {
    var scaler = Autoscaler.IDLE.observe(NO_DELAY, 0, "gateway-a", new Demand(48, 0, 0), NONE);
    long stillCounts = Autoscaler.SOURCE_TTL_MILLIS - 1;
    scaler = scaler.observe(NO_DELAY, stillCounts, "gateway-b", new Demand(12, 0, 0), NONE);
    assertThat(scaler.decide(NO_DELAY, stillCounts, NONE).desired()).isEqualTo(4);

    long forgotten = Autoscaler.SOURCE_TTL_MILLIS;
    scaler = scaler.observe(NO_DELAY, forgotten, "gateway-b", new Demand(12, 0, 0), NONE);
    assertThat(scaler.decide(NO_DELAY, forgotten, NONE).desired()).isEqualTo(1);
    assertThat(scaler.sources()).containsOnlyKeys("gateway-b");
  }

  @Test
  void aReportThatNamesNoGatewayStandsAloneAsBefore() {
    var named = Autoscaler.IDLE.observe(NO_DELAY, 0, "gateway-a", new Demand(48, 0, 0), NONE);
    var unnamed = named.observe(NO_DELAY, 10, null, new Demand(12, 0, 0), NONE);

    assertThat(unnamed.decide(NO_DELAY, 10, NONE).desired()).isEqualTo(1);
    assertThat(unnamed.peaks())
        .isEqualTo(Autoscaler.IDLE.observe(NO_DELAY, 10, new Demand(12, 0, 0), NONE).peaks());
    assertThat(Autoscaler.IDLE.observe(NO_DELAY, 0, null, new Demand(1, 0, 0), NONE).sources())
        .isEmpty();
  }

  @Test
  void theGatewaysRememberedAreBoundedTheLongestSilentGoingFirst() {
    var scaler = Autoscaler.IDLE;
    for (int i = 0; i < Autoscaler.MAX_SOURCES + 5; i++) {
      scaler = scaler.observe(NO_DELAY, i, "gateway-" + i, new Demand(0, 0, 0), NONE);
    }

    assertThat(scaler.sources()).hasSize(Autoscaler.MAX_SOURCES);
    assertThat(scaler.sources()).doesNotContainKey("gateway-4").containsKey("gateway-5");
    assertThat(scaler.sources()).containsKey("gateway-" + (Autoscaler.MAX_SOURCES + 4));
  }
}
