package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.autoscaler.ScalingPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AutoscalerSimulationTest {

  /** {@code count} requests at {@code at}, 100 ms each, first token after 10 ms. */
  private static List<AutoscalerSimulation.Request> burst(long at, int count) {
    List<AutoscalerSimulation.Request> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(new AutoscalerSimulation.Request(at, 10, 100));
    }
    return out;
  }

  private static AutoscalerSimulation.Settings settings(long delayMillis, long idleMillis) {
    return new AutoscalerSimulation.Settings(
        new ScalingPolicy(0, 8, 16, 1.0, delayMillis, 0, 0), idleMillis, 60_000, 1_000, 1_000);
  }

  @Test
  void aBurstFromZeroStartsWhatItNeedsAndWaitsOneColdStart() {
    var result = AutoscalerSimulation.run(burst(0, 32), settings(0, 500));

    assertThat(result.workersStarted()).isEqualTo(2);
    assertThat(result.ttftMillis()).hasSize(32).containsOnly(1_010L);
    // Each worker: 1 s booting, 100 ms serving, 500 ms idle before it is reaped, counted from its
    // last request although the second is let go 1 ms after the first (when the last demand it
    // was kept for leaves the window).
    assertThat(result.workerMillis()).isEqualTo(1_600 + 1_600);
    assertThat(result.attainment(2_000)).isEqualTo(1.0);
    assertThat(result.attainment(1_000)).isZero();
  }

  @Test
  void aScaleDownDelayLongerThanTheLullSavesTheSecondColdStart() {
    List<AutoscalerSimulation.Request> twoBursts = new ArrayList<>(burst(0, 32));
    twoBursts.addAll(burst(5_000, 32));

    var reaped = AutoscalerSimulation.run(twoBursts, settings(0, 500));
    var kept = AutoscalerSimulation.run(twoBursts, settings(10_000, 500));

    assertThat(reaped.workersStarted()).isEqualTo(4);
    assertThat(reaped.ttftPercentile(100)).isEqualTo(1_010);
    assertThat(kept.workersStarted()).isEqualTo(2);
    assertThat(kept.ttftPercentile(50)).isEqualTo(10); // the second burst is served warm
    assertThat(kept.workerMillis()).isGreaterThan(reaped.workerMillis());
  }

  @Test
  void theAutomaticDelayFollowsTheColdStart() {
    List<AutoscalerSimulation.Request> twoBursts = new ArrayList<>(burst(0, 16));
    twoBursts.addAll(burst(1_800, 16)); // within a cold start (1 s) of the first peak's end? no
    var auto = AutoscalerSimulation.run(twoBursts, settings(ScalingPolicy.AUTO_DELAY, 100));
    // The worker is let go 1 s (its cold start) after the peak, then idles 100 ms: gone before
    // the second burst, which waits for a new one.
    assertThat(auto.workersStarted()).isEqualTo(2);
  }

  @Test
  void requestsThatWaitPastTheWaitTimeAreCountedAgainstTheSlo() {
    var settings =
        new AutoscalerSimulation.Settings(
            new ScalingPolicy(0, 1, 1, 1.0, 0, 0, 0), 500, 150, 0, 1_000);
    var result = AutoscalerSimulation.run(burst(0, 3), settings);

    assertThat(result.ttftMillis()).containsExactly(10L, 110L);
    assertThat(result.timedOut()).isEqualTo(1);
    assertThat(result.attainment(2_000)).isEqualTo(2 / 3.0);
  }

  @Test
  void aBurstOfStartsBootsLongerPerStartAlreadyInProgress() {
    // 48 requests of 3 s at concurrency 16 need three workers, decided in one step: the first
    // boots alone (1 s), the second while one boots (1.5 s), the third while two boot (2 s).
    List<AutoscalerSimulation.Request> burst = new ArrayList<>();
    for (int i = 0; i < 48; i++) {
      burst.add(new AutoscalerSimulation.Request(0, 10, 3_000));
    }
    var policy = new ScalingPolicy(0, 8, 16, 1.0, 0, 0, 0);
    var parallel =
        AutoscalerSimulation.run(
            burst,
            new AutoscalerSimulation.Settings(
                policy, 500, 60_000, new ColdStartModel(1_000, 500), 1_000));
    var fixed =
        AutoscalerSimulation.run(
            burst, new AutoscalerSimulation.Settings(policy, 500, 60_000, 1_000, 1_000));

    assertThat(parallel.readyAfterMillis()).containsExactly(1_000L, 1_500L, 2_000L);
    assertThat(fixed.readyAfterMillis()).containsExactly(1_000L, 1_000L, 1_000L);
    // Each worker takes the 16 requests routed to it once it is ready.
    assertThat(parallel.ttftPercentile(100)).isEqualTo(2_010);
    assertThat(fixed.ttftPercentile(100)).isEqualTo(1_010);
    // The later workers cost their longer boots; each goes 500 ms after its own last request.
    assertThat(parallel.workerMillis()).isEqualTo(fixed.workerMillis() + 500 + 1_000);
  }

  @Test
  void aStartAfterTheBurstIsUpBootsAlone() {
    // Two bursts far apart, one worker each: nothing else boots at either decision.
    List<AutoscalerSimulation.Request> twoBursts = new ArrayList<>(burst(0, 16));
    twoBursts.addAll(burst(10_000, 16));
    var result =
        AutoscalerSimulation.run(
            twoBursts,
            new AutoscalerSimulation.Settings(
                new ScalingPolicy(0, 8, 16, 1.0, 0, 0, 0),
                500,
                60_000,
                new ColdStartModel(1_000, 500),
                1_000));

    assertThat(result.readyAfterMillis()).containsExactly(1_000L, 1_000L);
  }

  @Test
  void whatIfTakesAListOfPerBootSlopesOverTheSameBase() {
    var o =
        WhatIfTool.Options.parse(
            new String[] {
              "--trace",
              "code",
              "--cold-start-seconds",
              "1.5",
              "--cold-start-per-boot-seconds",
              "0,0.3,0.6",
              "--warm-buffer",
              "0,1"
            },
            Map.of("GANTRY_TRACES_DIR", "traces"));

    assertThat(o.coldStarts())
        .containsExactly(
            new ColdStartModel(1_500, 0),
            new ColdStartModel(1_500, 300),
            new ColdStartModel(1_500, 600));
    assertThat(
            WhatIfTool.Options.parse(
                    new String[] {"--trace", "code"}, Map.of("GANTRY_TRACES_DIR", "traces"))
                .coldStarts())
        .containsExactly(ColdStartModel.fixed(3_000));
    assertThatThrownBy(
            () ->
                WhatIfTool.Options.parse(
                    new String[] {"--trace", "code", "--cold-start-per-boot-seconds", "-1"},
                    Map.of("GANTRY_TRACES_DIR", "traces")))
        .hasMessageContaining("--cold-start-per-boot-seconds");
  }

  @Test
  void whatIfOptionsReadAGridAndRefuseNonsense() {
    var env = Map.of("GANTRY_TRACES_DIR", "traces");
    var o =
        WhatIfTool.Options.parse(
            new String[] {
              "--trace",
              "code",
              "--target-utilization",
              "0.5,1",
              "--scale-down-delay-seconds",
              "auto,30",
              "--warm-buffer",
              "0,1"
            },
            env);
    assertThat(o.grid()).hasSize(8);
    assertThat(o.grid().getFirst().scaleDownDelayMillis()).isEqualTo(ScalingPolicy.AUTO_DELAY);
    assertThat(o.grid().get(2).scaleDownDelayMillis()).isEqualTo(30_000);

    assertThatThrownBy(
            () ->
                WhatIfTool.Options.parse(
                    new String[] {"--trace", "code", "--target-utilization", "0,1"}, env))
        .hasMessageContaining("target utilization");
    assertThatThrownBy(
            () ->
                WhatIfTool.Options.parse(
                    new String[] {"--trace", "code", "--warm-buffer", "lots"}, env))
        .hasMessageContaining("--warm-buffer");
    assertThatThrownBy(
            () -> WhatIfTool.Options.parse(new String[] {"--trace", "code", "--nope", "1"}, env))
        .hasMessageContaining("unknown option");
  }
}
