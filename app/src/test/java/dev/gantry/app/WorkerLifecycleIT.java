package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real jar as a user runs it, with real {@code sim} engines as child processes: demand scales a
 * deployment out, idleness reaps it back to its minimum, a SIGKILLed engine is replaced, and after
 * {@code kill -9} of the platform the restarted one leaves no engine of the old one running.
 * Process facts are asked of the operating system, not of Gantry.
 */
@Timeout(300)
class WorkerLifecycleIT {
  static final ObjectMapper JSON = PlatformProcess.JSON;

  static PlatformProcess platform;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform = new PlatformProcess("worker-it").start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  static HttpResponse<String> get(String path) throws Exception {
    return platform.get(path);
  }

  static HttpResponse<String> post(String path, Object body) throws Exception {
    return platform.post(path, body);
  }

  static List<JsonNode> workers(String dep) throws Exception {
    var body = JSON.readTree(get("/api/v1/deployments/" + dep + "/workers").body());
    return StreamSupport.stream(body.spliterator(), false).toList();
  }

  static List<JsonNode> withStatus(String dep, String status) throws Exception {
    return workers(dep).stream().filter(w -> w.get("status").asText().equals(status)).toList();
  }

  /** Engines are the platform's descendants, as the OS sees them. */
  static List<Long> enginePids() {
    return platform.enginePids();
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Test
  void scalesOutReapsReplacesAndLeavesNoOrphansAfterAPlatformCrash() throws Exception {
    var created =
        post(
            "/api/v1/deployments",
            Map.of(
                "name", "autoscale",
                "model", "tiny-chat",
                "framework", "sim",
                "min_workers", 1,
                "max_workers", 3,
                "concurrency", 8,
                "idle_timeout_seconds", 8,
                "storage_gb", 1));
    assertThat(created.statusCode()).isEqualTo(201);
    String dep = JSON.readTree(created.body()).get("id").asText();

    // The min worker comes up on its own.
    await().atMost(Duration.ofSeconds(60)).until(() -> withStatus(dep, "healthy").size() == 1);
    assertThat(enginePids()).hasSize(1);
    String workerId = withStatus(dep, "healthy").getFirst().get("id").asText();
    assertThat(workerId).startsWith(dep + "-w");

    // A burst of 20 queued requests at concurrency 8 needs 3 workers: straight to 3.
    Instant decided = Instant.now();
    var demand = post("/api/v1/deployments/" + dep + "/demand", Map.of("queued", 20));
    assertThat(demand.statusCode()).isEqualTo(202);
    await().atMost(Duration.ofSeconds(60)).until(() -> withStatus(dep, "healthy").size() == 3);
    assertThat(enginePids()).hasSize(3);
    for (var w : withStatus(dep, "healthy")) {
      var healthyAt = Instant.parse(w.get("healthy_at").asText());
      if (healthyAt.isBefore(decided)) {
        continue; // the min worker
      }
      System.out.printf(
          "worker %s: demand to healthy %d ms, provisioning to healthy %d ms%n",
          w.get("id").asText(),
          Duration.between(decided, healthyAt).toMillis(),
          Duration.between(Instant.parse(w.get("created_at").asText()), healthyAt).toMillis());
    }

    // With no traffic, the two extra workers are reaped after the idle timeout; the min stays.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> withStatus(dep, "healthy").size() == 1 && withStatus(dep, "stopped").size() == 2);
    await().atMost(Duration.ofSeconds(30)).until(() -> enginePids().size() == 1);

    // SIGKILL the engine: the worker fails with the exit code and a replacement comes up.
    long victim = enginePids().getFirst();
    ProcessHandle.of(victim).orElseThrow().destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> withStatus(dep, "failed").size() == 1 && withStatus(dep, "healthy").size() == 1);
    assertThat(withStatus(dep, "failed").getFirst().get("failure_reason").asText()).contains("137");
    long replacement = enginePids().getFirst();
    assertThat(replacement).isNotEqualTo(victim);

    // kill -9 the platform: its engine survives it (the OS reparents it) ...
    List<Long> before = enginePids();
    platform.crash();
    assertThat(before).allMatch(WorkerLifecycleIT::alive);

    // ... and the restarted platform stops it and brings the deployment back to its min worker.
    platform.start();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> before.stream().noneMatch(WorkerLifecycleIT::alive));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> withStatus(dep, "healthy").size() == 1 && enginePids().size() == 1);
    assertThat(enginePids()).doesNotContainAnyElementsOf(before);
    var current = workers(dep).stream().filter(w -> w.get("stopped_at").isNull()).toList();
    assertThat(current).as("no worker counted twice").hasSize(1);

    // Deleting drains and stops every engine before the storage goes.
    var delete = platform.delete("/api/v1/deployments/" + dep);
    assertThat(delete.statusCode()).isEqualTo(202);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                JSON.readTree(get("/api/v1/deployments/" + dep).body())
                    .get("status")
                    .asText()
                    .equals("deleted"));
    assertThat(enginePids()).isEmpty();
    assertThat(platform.dataDir.resolve("storage").resolve(dep)).doesNotExist();
  }
}
