package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.storage.LocalStorage;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
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
  static final String KEY = ApiKeys.newKey();
  static final Path DATA_DIR = Path.of("target/worker-it").toAbsolutePath();
  static final Path JAR = Path.of("target/gantry.jar").toAbsolutePath();
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient http = HttpClient.newHttpClient();

  static int port;
  static int temporalPort;
  static Process platform;
  static final List<Long> everyEnginePid = new ArrayList<>();

  @BeforeAll
  static void startPlatform() throws Exception {
    LocalStorage.deleteTree(DATA_DIR);
    Files.createDirectories(DATA_DIR);
    port = freePort();
    temporalPort = freePort();
    platform = launch(1);
  }

  @AfterAll
  static void stopEverything() {
    if (platform != null) {
      platform.descendants().forEach(ProcessHandle::destroyForcibly);
      platform.destroyForcibly();
    }
    everyEnginePid.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
  }

  static int freePort() throws IOException {
    try (var socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  static Process launch(int n) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    var pb =
        new ProcessBuilder(
            java,
            "-jar",
            JAR.toString(),
            "--server.port=" + port,
            "--gantry.data-dir=" + DATA_DIR,
            "--gantry.temporal.embedded-port=" + temporalPort);
    pb.environment().put("GANTRY_API_KEY", KEY);
    pb.redirectErrorStream(true);
    pb.redirectOutput(DATA_DIR.resolve("platform-" + n + ".out").toFile());
    Process p = pb.start();
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(() -> get("/readyz").statusCode() == 200);
    return p;
  }

  static HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer " + KEY)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(String path, Object body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer " + KEY)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
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
    var pids =
        platform.descendants().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).toList();
    everyEnginePid.addAll(pids);
    return pids;
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
    platform.destroyForcibly().waitFor();
    assertThat(before).allMatch(WorkerLifecycleIT::alive);

    // ... and the restarted platform stops it and brings the deployment back to its min worker.
    platform = launch(2);
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
    var delete =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/api/v1/deployments/" + dep))
                .header("Authorization", "Bearer " + KEY)
                .DELETE()
                .build(),
            HttpResponse.BodyHandlers.ofString());
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
    assertThat(DATA_DIR.resolve("storage").resolve(dep)).doesNotExist();
  }
}
