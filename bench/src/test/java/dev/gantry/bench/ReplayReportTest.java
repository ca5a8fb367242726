package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.bench.ReplayReport.Kind;
import dev.gantry.bench.ReplayReport.Outcome;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
}
