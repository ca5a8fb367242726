package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 8's cold starts, against the real jar: a burst at zero workers starts its workers together,
 * and each shows its cold start step by step (decision, engine process, healthy, first request
 * routed) in the workers listing and in the {@code gantry.worker.cold.start} timers.
 */
@Timeout(180)
class ColdStartIT {
  static final int BURST = 3;
  static final String MODEL = "cold-start-it";

  static final List<String> PHASES = List.of("provision", "boot", "first_request", "total");

  static PlatformProcess platform;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform =
        new PlatformProcess(
                "cold-start-it",
                "--management.endpoints.web.exposure.include=health,metrics",
                "--" + PlatformProcess.SIM_AOT_CACHE + "=true")
            .start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  static List<JsonNode> workers(String dep) throws Exception {
    var body = PlatformProcess.json(platform.get("/api/v1/deployments/" + dep + "/workers"));
    return StreamSupport.stream(body.spliterator(), false).toList();
  }

  static Instant at(JsonNode coldStart, String field) {
    return Instant.parse(coldStart.get(field).asText());
  }

  static double timerCount(String phase) throws Exception {
    var r =
        platform.get(
            "/actuator/metrics/gantry.worker.cold.start?tag=phase:" + phase + ",framework:sim");
    if (r.statusCode() == 404) {
      return 0; // no worker recorded this phase yet: the timer is registered with the first one
    }
    assertThat(r.statusCode()).as(phase + ": " + r.body()).isEqualTo(200);
    for (var m : PlatformProcess.json(r).get("measurements")) {
      if (m.get("statistic").asText().equals("COUNT")) {
        return m.get("value").asDouble();
      }
    }
    throw new AssertionError("no COUNT in " + r.body());
  }

  /** The simulator's ahead-of-time cache the platform trains at start (JDK 25 and later). */
  static Path aotCache() throws Exception {
    try (var files = Files.walk(platform.dataDir.resolve("engines"))) {
      return files
          .filter(p -> p.getFileName().toString().matches("aot-[0-9a-f]+\\.aot"))
          .findFirst()
          .orElse(null);
    }
  }

  @Test
  void workersStartFromTheSimulatorsAheadOfTimeCacheWithTheirBatchSizedToTheConcurrency()
      throws Exception {
    assumeTrue(Runtime.version().feature() >= 25, "ahead-of-time caches need JDK 25");
    await().atMost(Duration.ofSeconds(90)).until(() -> aotCache() != null);
    Path cache = aotCache();
    double routedBefore = timerCount("first_request");

    var created =
        platform.post(
            "/api/v1/deployments",
            Map.of(
                "name",
                "aot",
                "model",
                "aot-it",
                "framework",
                "sim",
                "min_workers",
                1,
                "max_workers",
                1,
                "concurrency",
                12,
                "framework_args",
                List.of("--ttft-ms=0", "--inter-token-ms=0")));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    String dep = PlatformProcess.json(created).get("id").asText();
    platform.awaitStatus(dep, "running", Duration.ofSeconds(60));
    var answer =
        platform.post(
            "/openai/" + dep + "/v1/chat/completions",
            PlatformProcess.JSON.readTree(
                "{\"model\":\"aot-it\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                    + "\"max_tokens\":4}"));
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);

    List<String> commandLines =
        platform.enginePids().stream()
            .flatMap(pid -> ProcessHandle.of(pid).stream())
            .map(h -> h.info().commandLine().orElse(""))
            .filter(c -> c.contains("--model aot-it"))
            .toList();
    assertThat(commandLines).hasSize(1);
    assertThat(commandLines.getFirst()).contains("-XX:AOTCache=" + cache);
    // The engine's batch is the deployment's concurrency, so none of its requests wait inside it.
    assertThat(commandLines.getFirst()).contains("--max-concurrency=12");
    // Its first request is recorded (on the gateway's ticker) before the next test counts them.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> timerCount("first_request") == routedBefore + 1);
    assertThat(platform.delete("/api/v1/deployments/" + dep).statusCode()).isEqualTo(202);
  }

  @Test
  void aBurstStartsItsWorkersTogetherAndEachRecordsItsColdStart() throws Exception {
    // Other tests' workers count in the same timers.
    Map<String, Double> countsBefore = new java.util.HashMap<>();
    for (String phase : PHASES) {
      countsBefore.put(phase, timerCount(phase));
    }
    var created =
        platform.post(
            "/api/v1/deployments",
            Map.of(
                "name",
                "cold",
                "model",
                MODEL,
                "framework",
                "sim",
                "max_workers",
                BURST,
                "concurrency",
                1,
                "idle_timeout_seconds",
                120,
                "wait_time_seconds",
                120,
                // Each engine takes 2 s to load, and each request holds its worker for 3 s: the
                // burst's requests get a worker each.
                "framework_args",
                List.of("--startup-seconds=2", "--ttft-ms=0", "--inter-token-ms=20")));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    String dep = PlatformProcess.json(created).get("id").asText();
    platform.awaitStatus(dep, "running", Duration.ofSeconds(60));

    // One burst, one decision for all of it: the demand, then the requests themselves.
    assertThat(
            platform
                .post("/api/v1/deployments/" + dep + "/demand", Map.of("queued", BURST))
                .statusCode())
        .isEqualTo(202);
    String body =
        "{\"model\":\""
            + MODEL
            + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            + "\"max_tokens\":150}";
    var answers = new ArrayList<CompletableFuture<HttpResponse<String>>>();
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < BURST; i++) {
        answers.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return platform.post(
                        "/openai/" + dep + "/v1/chat/completions",
                        PlatformProcess.JSON.readTree(body));
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                },
                threads));
      }
      await()
          .atMost(Duration.ofSeconds(90))
          .until(
              () ->
                  workers(dep).stream()
                          .filter(w -> !w.get("cold_start").get("first_routed_at").isNull())
                          .count()
                      == BURST);
      for (var answer : answers) {
        assertThat(answer.join().statusCode()).isEqualTo(200);
      }
    }

    var coldStarts = workers(dep).stream().map(w -> w.get("cold_start")).toList();
    assertThat(coldStarts).hasSize(BURST);
    for (var c : coldStarts) {
      // Each step after the one before, and the times between them add up (each is rounded
      // down to the millisecond on its own).
      assertThat(at(c, "decided_at")).isBeforeOrEqualTo(at(c, "process_started_at"));
      assertThat(at(c, "process_started_at")).isBefore(at(c, "healthy_at"));
      assertThat(at(c, "healthy_at")).isBeforeOrEqualTo(at(c, "first_routed_at"));
      assertThat(c.get("boot_ms").asLong()).isGreaterThanOrEqualTo(2000);
      assertThat(
              c.get("provision_ms").asLong()
                  + c.get("boot_ms").asLong()
                  + c.get("first_request_ms").asLong())
          .isBetween(c.get("total_ms").asLong() - 2, c.get("total_ms").asLong());
    }
    // Started together: every engine process of the burst was started before any was healthy
    // (each takes over 2 s), not one after another.
    Instant lastProcessStart =
        coldStarts.stream()
            .map(c -> at(c, "process_started_at"))
            .max(Comparator.naturalOrder())
            .orElseThrow();
    Instant firstHealthy =
        coldStarts.stream()
            .map(c -> at(c, "healthy_at"))
            .min(Comparator.naturalOrder())
            .orElseThrow();
    assertThat(lastProcessStart).isBefore(firstHealthy);

    // The same steps, timed once per worker by the orchestrator (provision, boot) and by the
    // gateway that routed the first request (first_request, total).
    // Each worker's timers are recorded just after its times are stored.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              for (String phase : PHASES) {
                assertThat(timerCount(phase) - countsBefore.get(phase)).as(phase).isEqualTo(BURST);
              }
            });
  }
}
