package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ColdStartBenchTest {

  static final String WORKER =
      """
      {"id": "dep_x-w1", "status": "healthy", "cold_start": {
        "decided_at": "2026-12-06T10:00:00.000Z",
        "process_started_at": "2026-12-06T10:00:00.120Z",
        "healthy_at": "2026-12-06T10:00:01.900Z",
        "first_routed_at": "2026-12-06T10:00:02.000Z",
        "provision_ms": 120, "boot_ms": 1780, "first_request_ms": 100, "total_ms": 2000}}
      """;

  static final String LOG =
      """
      # gantry: worker dep_x-w1 ...
      gantry-sim listening on 127.0.0.1:4000 model=m
      gantry-sim boot: process_started_at=2026-12-06T10:00:00.110Z \
      listening_at=2026-12-06T10:00:00.700Z ready_at=2026-12-06T10:00:01.700Z
      """;

  @Test
  void aWorkersPlatformShareIsItsTotalLessTheEnginesOwnBoot() {
    var sample = ColdStartBench.Sample.of(Json.parseObject(WORKER), LOG);

    assertThat(sample.provisionMs()).isEqualTo(120);
    assertThat(sample.totalMs()).isEqualTo(2000);
    assertThat(sample.engineBootMs()).isEqualTo(1590);
    assertThat(sample.platformMs()).isEqualTo(410);
    assertThat(sample.decidedAt()).isEqualTo(Instant.parse("2026-12-06T10:00:00Z"));
    // Ready at 01.700, recorded healthy at 01.900.
    assertThat(sample.healthLagMs()).isEqualTo(200);
  }

  @Test
  void theLastBootLineCountsAndALogWithoutOneGivesNoEngineBoot() {
    String restarted =
        LOG
            + "gantry-sim boot: process_started_at=2026-12-06T11:00:00Z"
            + " listening_at=2026-12-06T11:00:00.500Z ready_at=2026-12-06T11:00:00.800Z\n";
    assertThat(ColdStartBench.engineBootMs(restarted)).isEqualTo(800);
    assertThat(ColdStartBench.engineBootMs("no boot here")).isEqualTo(-1);
  }

  @Test
  void aWorkerWhoseColdStartIsNotCompleteIsRefused() {
    String provisioning =
        """
        {"id": "dep_x-w2", "cold_start": {"decided_at": "2026-12-06T10:00:00Z",
          "process_started_at": null, "healthy_at": null, "first_routed_at": null,
          "provision_ms": null, "boot_ms": null, "first_request_ms": null, "total_ms": null}}
        """;
    assertThatThrownBy(() -> ColdStartBench.Sample.of(Json.parseObject(provisioning), LOG))
        .hasMessageContaining("process_started_at");
  }

  @Test
  void theSummaryGivesP50AndMaxOfEachStep() {
    var fast = ColdStartBench.Sample.of(Json.parseObject(WORKER), LOG);
    var slow =
        new ColdStartBench.Sample(
            "dep_x-w2",
            fast.decidedAt(),
            fast.processStartedAt(),
            fast.healthyAt(),
            300,
            2000,
            200,
            2500,
            1600,
            fast.healthyAt().minusMillis(300));
    var options =
        ColdStartBench.Options.parse(
            new String[] {"--key", "gk_x", "--workers", "2", "--rounds", "1"}, Map.of());
    var out = new ByteArrayOutputStream();

    ColdStartBench.summary(
        new PrintStream(out, true, StandardCharsets.UTF_8), List.of(fast, slow), options);

    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(text).contains("platform       p50    410   max    900");
    assertThat(text)
        .contains(
            "COLD_START_RESULT {\"workers\":2,\"provision\":{\"p50\":120,\"max\":300},"
                + "\"boot\":{\"p50\":1780,\"max\":2000},\"first_request\":{\"p50\":100,\"max\":200},"
                + "\"total\":{\"p50\":2000,\"max\":2500},\"engine_boot\":{\"p50\":1590,\"max\":1600},"
                + "\"health_lag\":{\"p50\":200,\"max\":300},\"platform\":{\"p50\":410,\"max\":900}}");
  }

  @Test
  void optionsHaveDefaultsAndBadOnesAreRefused() {
    var o =
        ColdStartBench.Options.parse(new String[] {"--data-dir=/tmp/g"}, Map.of("GANTRY_KEY", "k"));
    assertThat(o.workers()).isEqualTo(4);
    assertThat(o.rounds()).isEqualTo(3);
    assertThat(o.dataDir()).isEqualTo(Path.of("/tmp/g"));
    assertThat(o.url().toString()).isEqualTo("http://localhost:8080/");
    assertThat(ColdStartBench.Options.parse(new String[] {"--help"}, Map.of())).isNull();
    assertThatThrownBy(() -> ColdStartBench.Options.parse(new String[] {}, Map.of()))
        .hasMessageContaining("no API key");
    assertThatThrownBy(
            () -> ColdStartBench.Options.parse(new String[] {"--key=k", "--workers=0"}, Map.of()))
        .hasMessageContaining("--workers");
    assertThatThrownBy(
            () -> ColdStartBench.Options.parse(new String[] {"--key=k", "--fast=1"}, Map.of()))
        .hasMessageContaining("unknown option");
  }
}
