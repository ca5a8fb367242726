package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.gantry.bench.ReplayReport.Kind;
import dev.gantry.bench.ReplayReport.Outcome;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReplayReportTest {

  private static final long MS = 1_000_000L;

  private static Outcome ok(int index, long sentMs, long ttftMs, long endMs, int tokens) {
    return new Outcome(
        index, tokens, sentMs * MS, Kind.OK, 200, (sentMs + ttftMs) * MS, endMs * MS, null);
  }

  private static Outcome failed(int index, long sentMs, Kind kind, int status, String error) {
    return new Outcome(index, 10, sentMs * MS, kind, status, -1, (sentMs + 5) * MS, error);
  }

  @Test
  void countsStatusesAndComputesNearestRankPercentilesAndSloAttainment() {
    List<Outcome> outcomes = new ArrayList<>();
    // 100 ok requests with TTFTs of 1, 2, ..., 100 ms (sent in reverse order of TTFT).
    for (int i = 0; i < 100; i++) {
      outcomes.add(ok(i, i, 100 - i, 500, 10));
    }
    outcomes.add(failed(100, 7, Kind.TOO_MANY_REQUESTS, 429, "HTTP 429: queue full"));
    outcomes.add(failed(101, 3, Kind.SERVER_ERROR, 504, "HTTP 504: starting"));
    outcomes.add(failed(102, 9, Kind.TIMEOUT, 0, "no complete answer within 5 s"));
    outcomes.add(failed(103, 9, Kind.BROKEN_STREAM, 200, "error event mid-stream"));

    ReplayReport r =
        ReplayReport.summarize(
            "setup",
            outcomes,
            90,
            new GantryApi.Usage(3, 30, 0, 0, 0),
            2,
            new IdealAutoscaler.Result(1, 12_000, 1, 0),
            "engine timing");

    assertThat(r.requests()).isEqualTo(104);
    assertThat(r.ok()).isEqualTo(100);
    assertThat(r.tooMany()).isEqualTo(1);
    assertThat(r.serverErrors()).isEqualTo(1);
    assertThat(r.errors()).isEqualTo(2);
    assertThat(r.timeouts()).isEqualTo(1);
    assertThat(r.statuses()).isEqualTo(Map.of(0, 1, 200, 101, 429, 1, 504, 1));
    assertThat(r.ttftP50Ms()).isEqualTo(50.0);
    assertThat(r.ttftP99Ms()).isEqualTo(99.0);
    // 90 of 104 requests were ok within 90 ms.
    assertThat(r.sloAttainment()).isEqualTo(90.0 / 104);
    assertThat(r.firstError()).isEqualTo("HTTP 504: starting"); // the earliest sent
    assertThat(r.ratio()).isEqualTo(2.5);
  }

  @Test
  void printsOneTableAndOneJsonLine() {
    ReplayReport r =
        ReplayReport.summarize(
            "code trace at 10x",
            List.of(ok(0, 0, 40, 100, 5), failed(1, 1, Kind.TOO_MANY_REQUESTS, 429, "HTTP 429")),
            2000,
            new GantryApi.Usage(2, 21.25, 0, 4.5, 3),
            2,
            new IdealAutoscaler.Result(1, 8_500, 1, 0),
            "engine timing: 50 ms + max_tokens x 5 ms");

    String table = r.table();
    assertThat(table)
        .startsWith("code trace at 10x\n")
        .contains(
            "| requests | 2xx | 429 | 5xx | errors | TTFT p50 / p99 | TTFT <= 2000 ms |"
                + " workers started | worker-s | ideal worker-s | ratio |")
        .contains(
            "| 2        | 1   | 1   | 0   | 0      | 40 / 40 ms     | 50.0 %          |"
                + " 2               | 21.3     | 8.5            | 2.50  |")
        .contains("statuses: 200 x1, 429 x1")
        .contains("first failure: HTTP 429")
        .contains("created to healthy: mean 3.0 s, max 4.5 s");
    Map<String, Object> json = Json.parseObject(r.json());
    assertThat(json)
        .containsEntry("requests", 2.0)
        .containsEntry("ok", 1.0)
        .containsEntry("status_429", 1.0)
        .containsEntry("ttft_p50_ms", 40.0)
        .containsEntry("slo_attainment", 0.5)
        .containsEntry("workers_started", 2.0)
        .containsEntry("worker_seconds", 21.25)
        .containsEntry("ideal_worker_seconds", 8.5)
        .containsEntry("ratio", 2.5)
        .containsEntry("statuses", Map.of("200", 1.0, "429", 1.0));
  }

  @Test
  void withoutAnyAnswerThereIsNoPercentileAndNoIdeal() {
    ReplayReport r =
        ReplayReport.summarize(
            "s",
            List.of(failed(0, 0, Kind.CONNECTION_ERROR, 0, "refused")),
            2000,
            new GantryApi.Usage(0, 0, 0, 0, 0),
            0,
            null,
            null);

    assertThat(r.table()).contains("| -              |").contains("ideal: not computed");
    assertThat(Json.parseObject(r.json()))
        .containsEntry("ttft_p50_ms", null)
        .containsEntry("ideal_worker_seconds", null)
        .containsEntry("ratio", null);
    assertThat(ReplayReport.idealInput(List.of(failed(0, 0, Kind.TIMEOUT, 0, "t")), null, null))
        .isNull();
  }

  @Test
  void idealDurationsComeFromTheEngineTimingWhenGiven() {
    List<Outcome> outcomes =
        List.of(ok(0, 100, 3000, 4000, 20), failed(1, 250, Kind.SERVER_ERROR, 504, "x"));

    ReplayReport.IdealInput input = ReplayReport.idealInput(outcomes, 50, 5);

    assertThat(input.jobs())
        .containsExactly(new IdealAutoscaler.Job(100, 150), new IdealAutoscaler.Job(250, 100));
  }

  @Test
  void idealDurationsFromTheMeasurementLeaveOutTheWaitForAWorker() {
    // The first waited 3 s for a worker (TTFT 3000 ms), the second did not (TTFT 40 ms): the
    // engine's own TTFT is 40 ms. Their streams took 200 ms (20 tokens) and 100 ms (10 tokens)
    // after the first token: 10 ms per token. The failed one (10 tokens) gets 40 + 100 ms.
    List<Outcome> outcomes =
        List.of(
            ok(0, 0, 3000, 3200, 20),
            ok(1, 500, 40, 640, 10),
            failed(2, 700, Kind.SERVER_ERROR, 504, "x"));

    ReplayReport.IdealInput input = ReplayReport.idealInput(outcomes, null, null);

    assertThat(input.jobs())
        .containsExactly(
            new IdealAutoscaler.Job(0, 240),
            new IdealAutoscaler.Job(500, 140),
            new IdealAutoscaler.Job(700, 140));
    assertThat(input.source()).contains("40.0 ms").contains("10.00 ms/token");
  }

  @Test
  void whatIfRequestsHoldTheirSlotForTheirStreamPlusTheMedianWarmTtft() {
    // Three were sent before any worker was healthy (at 1 s) and waited for it (TTFTs of 1 s and
    // more), three after (TTFT 30, 60 and 90 ms): the median of those, 60 ms, is the engine's
    // first token under load (the median of all six, 90 ms, would hold a wait; the smallest, 30
    // ms, is too short). Their streams after the first token: 500, 500, 500, 100, 200, 300 ms
    // for 10 tokens each: 30 ms per token at the median (nearest rank: the third of six); the
    // failed one (10 tokens) gets 60 + 300 ms.
    List<Outcome> outcomes =
        List.of(
            ok(0, 0, 1000, 1500, 10),
            ok(1, 0, 1000, 1500, 10),
            ok(2, 0, 1100, 1600, 10),
            ok(3, 2000, 30, 2130, 10),
            ok(4, 2100, 60, 2360, 10),
            ok(5, 2200, 90, 2590, 10),
            failed(6, 2300, Kind.SERVER_ERROR, 504, "x"));
    List<ReplayReport.Span> healthy = List.of(new ReplayReport.Span(1_000 * MS, Long.MAX_VALUE));

    ReplayReport.WhatIfInput input = ReplayReport.whatIfInput(outcomes, healthy);

    assertThat(input.engineTtftMillis()).isEqualTo(60);
    assertThat(input.requests())
        .containsExactly(
            new AutoscalerSimulation.Request(0, 60, 560),
            new AutoscalerSimulation.Request(0, 60, 560),
            new AutoscalerSimulation.Request(0, 60, 560),
            new AutoscalerSimulation.Request(2000, 60, 160),
            new AutoscalerSimulation.Request(2100, 60, 260),
            new AutoscalerSimulation.Request(2200, 60, 360),
            new AutoscalerSimulation.Request(2300, 60, 360));
    assertThat(input.source())
        .contains("median TTFT of the 3 ok requests sent while a worker was healthy (60.0 ms;")
        .contains("the smallest 30.0 ms)")
        .contains("30.00 ms/token");
    // Without a healthy worker at any send: the median of all (nearest rank: the third of six).
    assertThat(ReplayReport.whatIfInput(outcomes, List.of()).engineTtftMillis()).isEqualTo(90);
    assertThat(ReplayReport.whatIfInput(List.of(failed(0, 0, Kind.TIMEOUT, 0, "t")), List.of()))
        .isNull();
  }

  @Test
  void healthySpansComeFromTheWorkersListingOnTheRunsTimeline() {
    Instant t0 = Instant.parse("2026-12-06T10:00:00Z");
    List<GantryApi.Worker> workers =
        List.of(
            new GantryApi.Worker("w1", "stopped", t0, t0.plusSeconds(1), t0.plusSeconds(3)),
            new GantryApi.Worker("w2", "healthy", t0, t0.plusSeconds(2), null),
            new GantryApi.Worker("w3", "failed", t0, null, t0.plusSeconds(4)));

    assertThat(ReplayReport.Span.healthy(workers, t0.minusMillis(500)))
        .containsExactly(
            new ReplayReport.Span(1_500 * MS, 3_500 * MS),
            new ReplayReport.Span(2_500 * MS, Long.MAX_VALUE));
  }

  @Test
  void theRunsOwnPredictionUsesTheDeploymentsSettingsAndItsFittedColdStarts() {
    // Two requests at 0 and 10 ms wait for the one worker decided at once, which took 1 s to
    // healthy; a third at 1.2 s finds it warm: TTFT 60 ms. Each streams 500 ms after its first
    // token, so each holds its slot 560 ms.
    List<Outcome> outcomes =
        List.of(ok(0, 0, 1060, 1560, 10), ok(1, 10, 1050, 1560, 10), ok(2, 1200, 60, 1760, 10));
    var deployment =
        new GantryApi.Deployment(
            "dep_1", "m", "running", 0, 4, 4, 2, 0, 30, new GantryApi.Autoscaling(1.0, 0, 0, 0));
    Instant t0 = Instant.parse("2026-12-06T10:00:00Z");
    List<GantryApi.Worker> workers =
        List.of(
            new GantryApi.Worker(
                "w1", "stopped", t0, t0.plusMillis(1_000), t0.plusMillis(3_760), t0));

    var whatIf =
        ReplayReport.WhatIf.predict(
            ReplayReport.whatIfInput(outcomes, ReplayReport.Span.healthy(workers, t0)),
            deployment,
            workers,
            Set.of(),
            10_000,
            3.4);

    // The worker boots 1 s, serves the first two until 1.56 s and the third from 1.2 to 1.76 s,
    // then idles its 2 s: 3.76 s predicted against 3.4 measured.
    assertThat(whatIf.coldStart().model()).isEqualTo(ColdStartModel.fixed(1_000));
    assertThat(whatIf.result().workersStarted()).isEqualTo(1);
    assertThat(whatIf.predictedWorkerSeconds()).isEqualTo(3.76);
    assertThat(whatIf.waitTimeMillis()).isEqualTo(30_000);
    assertThat(whatIf.errorPercent()).isCloseTo(100 * (3.76 - 3.4) / 3.4, within(1e-9));
    // The ideal's one worker is there at once and serves the same three 560 ms requests (0-560,
    // 10-570, 1200-1760), then idles its 2 s: 3.76 s, against which 3.4 measured is 0.90.
    assertThat(whatIf.servedIdealWorkerSeconds()).isEqualTo(3.76);
    assertThat(whatIf.servedRatio()).isCloseTo(3.4 / 3.76, within(1e-9));

    ReplayReport r =
        ReplayReport.summarize(
                "s",
                outcomes,
                2000,
                new GantryApi.Usage(1, 3.4, 0, 1, 1),
                1,
                new IdealAutoscaler.Result(1, 2_560, 1, 0),
                "measured")
            .withWhatIf(whatIf);

    assertThat(r.table())
        .contains(
            "what-if for this run's settings (measured request times, cold start model 1.00 s):"
                + " 4 worker-s predicted, 3.4 measured (+10.6 %)\n")
        .contains(
            "what-if cold start model: 1.00 s (mean: one cold start; 1 cold start measured,"
                + " decided to healthy); in --what-if: --cold-start-seconds 1"
                + " --cold-start-per-boot-seconds 0\n")
        .contains("what-if settings: target_utilization 1, scale_down_delay_seconds 0")
        .contains(
            "ideal at this run's request times (the what-if's): 3.8 worker-s; measured / ideal"
                + " 0.90\n");
    Map<String, Object> json = Json.parseObject(r.json());
    assertThat(json)
        .containsEntry("worker_seconds", 3.4) // the old keys stay
        .containsEntry("ideal_worker_seconds", 2.56)
        .containsEntry("whatif_worker_seconds", 3.76)
        .containsEntry("whatif_error_percent", 10.588)
        .containsEntry("served_ideal_worker_seconds", 3.76)
        .containsEntry("served_ratio", 0.904)
        .containsEntry("whatif_workers_started", 1.0)
        .containsEntry("whatif_cold_start_seconds", 1.0)
        .containsEntry("whatif_cold_start_per_boot_seconds", 0.0)
        .containsEntry("whatif_cold_start_fit", "mean: one cold start")
        .containsEntry("whatif_cold_starts_measured", 1.0)
        .containsKeys(
            "whatif_ttft_p50_ms",
            "whatif_ttft_p99_ms",
            "whatif_slo_attainment",
            "whatif_timed_out",
            "whatif_request_times");
    assertThat(
            Json.parseObject(
                ReplayReport.summarize(
                        "s", outcomes, 2000, new GantryApi.Usage(1, 3.4, 0, 1, 1), 1, null, null)
                    .json()))
        .containsEntry("whatif_worker_seconds", null);
  }

  @Test
  void workersThatAlwaysRunAreCountedToTheEndOfTheRunInThePrediction() {
    // min_workers 1: the permanent worker serves the one request and runs on to the end of the
    // 10 s window, as the live count has it (no worker started during the run: no cold start).
    var deployment =
        new GantryApi.Deployment(
            "dep_1", "m", "running", 1, 1, 4, 5, 0, 60, GantryApi.Autoscaling.DEFAULTS);

    var whatIf =
        ReplayReport.WhatIf.predict(
            ReplayReport.whatIfInput(List.of(ok(0, 100, 40, 600, 10)), List.of()),
            deployment,
            List.of(),
            Set.of(),
            10_000,
            10);

    assertThat(whatIf.coldStart().method()).isEqualTo("none measured");
    assertThat(whatIf.result().workersStarted()).isZero();
    assertThat(whatIf.predictedWorkerSeconds()).isEqualTo(10.0);
    assertThat(whatIf.errorPercent()).isZero();
  }
}
