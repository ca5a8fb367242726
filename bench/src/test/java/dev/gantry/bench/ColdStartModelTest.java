package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.bench.ColdStartModel.Point;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ColdStartModelTest {

  private static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");

  @Test
  void leastSquaresRecoversAKnownBaseAndSlope() {
    // 1.2 s alone, 0.4 s more per boot in progress, with noise that cancels out (+-50 ms around
    // the line at each x): the fit must land on the line.
    var fit =
        ColdStartModel.fit(
            List.of(
                new Point(0, 1_150),
                new Point(0, 1_250),
                new Point(1, 1_550),
                new Point(1, 1_650),
                new Point(3, 2_350),
                new Point(3, 2_450)));

    assertThat(fit.model()).isEqualTo(new ColdStartModel(1_200, 400));
    assertThat(fit.method()).isEqualTo("least squares");
    assertThat(fit.model().millis(0)).isEqualTo(1_200);
    assertThat(fit.model().millis(5)).isEqualTo(3_200);
    assertThat(fit.describe())
        .isEqualTo(
            "1.20 s + 0.40 s per boot in progress (least squares; 6 cold starts measured,"
                + " decided to healthy)");
    assertThat(fit.model().options())
        .isEqualTo("--cold-start-seconds 1.2 --cold-start-per-boot-seconds 0.4");
  }

  @Test
  void degenerateDataFallsBackToTheMean() {
    assertThat(ColdStartModel.fit(List.of())).isNull();

    var one = ColdStartModel.fit(List.of(new Point(2, 1_700)));
    assertThat(one.model()).isEqualTo(ColdStartModel.fixed(1_700));
    assertThat(one.method()).startsWith("mean");

    // Every start saw the same boots in progress: no slope can be told from the data.
    var flat = ColdStartModel.fit(List.of(new Point(0, 1_000), new Point(0, 2_000)));
    assertThat(flat.model()).isEqualTo(ColdStartModel.fixed(1_500));
    assertThat(flat.method()).startsWith("mean");
    assertThat(flat.describe()).startsWith("1.50 s (mean");

    // Parallel boots that come out faster are noise, not a model.
    var falling = ColdStartModel.fit(List.of(new Point(0, 2_000), new Point(2, 1_000)));
    assertThat(falling.model()).isEqualTo(ColdStartModel.fixed(1_500));
    assertThat(falling.method()).isEqualTo("mean: the fitted slope was not positive");
  }

  @Test
  void aLineBelowZeroAtNoBootsIsFittedThroughTheOrigin() {
    // The free line through these is -500 + 1000 x, which would give a lone start -0.5 s.
    // Through the origin the slope is sum(x y) / sum(x^2) = (500 + 3000 + 7500) / 14 = 785.7.
    var fit =
        ColdStartModel.fit(List.of(new Point(1, 500), new Point(2, 1_500), new Point(3, 2_500)));

    assertThat(fit.model()).isEqualTo(new ColdStartModel(0, 786));
    assertThat(fit.method()).isEqualTo("least squares through 0");
  }

  @Test
  void negativeTimesAreRefused() {
    assertThatThrownBy(() -> new ColdStartModel(-1, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void pointsCountTheOtherWorkersStillBootingAtEachDecision() {
    List<GantryApi.Worker> workers =
        List.of(
            // There before the run, long healthy: never booting, never a point.
            new GantryApi.Worker("w0", "healthy", T0.minusSeconds(60), T0.minusSeconds(58), null),
            // A burst of three decided 10 ms apart, each created 100 ms after its decision.
            worker("w1", 0, 100, 1_000, null),
            worker("w2", 10, 110, 1_500, null),
            worker("w3", 20, 120, 2_000, null),
            // Failed while booting at 1.2 s: it booted (and took CPU) until then; no point.
            worker("w4", 30, 130, -1, 1_200L),
            // Decided at 1.1 s: w2, w3 and the failing w4 still boot, w1 is healthy.
            worker("w5", 1_100, 1_150, 2_100, null),
            // Decided after everything was up: alone.
            worker("w6", 5_000, 5_050, 6_000, null));

    List<Point> points = ColdStartModel.points(workers, Set.of("w0"));

    assertThat(points)
        .containsExactly(
            new Point(0, 1_000),
            new Point(1, 1_490),
            new Point(2, 1_980),
            new Point(3, 1_000),
            new Point(0, 1_000));
  }

  @Test
  void theListingsDecisionTimeIsRead() {
    @SuppressWarnings("unchecked")
    List<Object> listing =
        (List<Object>)
            Json.parse(
                "[{\"id\":\"w1\",\"status\":\"healthy\",\"created_at\":\"2026-12-06T10:00:00.100Z\","
                    + "\"healthy_at\":\"2026-12-06T10:00:01Z\",\"stopped_at\":null,"
                    + "\"cold_start\":{\"decided_at\":\"2026-12-06T10:00:00Z\"}},"
                    + "{\"id\":\"w2\",\"status\":\"healthy\",\"created_at\":\"2026-12-06T10:00:00.200Z\","
                    + "\"healthy_at\":null,\"stopped_at\":null,"
                    + "\"cold_start\":{\"decided_at\":null}}]");

    List<GantryApi.Worker> workers = GantryApi.Worker.fromListing(listing);

    assertThat(workers.get(0).decidedAt()).isEqualTo(T0);
    // No decision time (a worker started before cold starts were recorded): its creation.
    assertThat(workers.get(1).decidedAt()).isEqualTo(T0.plusMillis(200));
  }

  /** A worker decided, created and healthy (or -1) at the given milliseconds after T0. */
  private static GantryApi.Worker worker(
      String id, long decided, long created, long healthy, Long stopped) {
    return new GantryApi.Worker(
        id,
        stopped == null ? "healthy" : "failed",
        T0.plusMillis(created),
        healthy < 0 ? null : T0.plusMillis(healthy),
        stopped == null ? null : T0.plusMillis(stopped),
        T0.plusMillis(decided));
  }
}
