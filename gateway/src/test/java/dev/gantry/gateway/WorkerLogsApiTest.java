package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gantry.gateway.deployment.WorkerLogService;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.gpu.GpuInventory;
import dev.gantry.infra.runtime.EngineLaunchSpecs;
import dev.gantry.infra.runtime.LocalWorkerRuntime;
import dev.gantry.infra.runtime.RunningWorker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.Disposable;

@SpringBootTest(
    classes = {GatewayTestApplication.class, WorkerLogsApiTest.App.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@Timeout(60)
class WorkerLogsApiTest {
  /** A value no credential pattern knows: only masking by the deployment's own values hides it. */
  static final String SECRET = "plainPassphrase2026";

  static Path dataDir;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    dataDir = Files.createTempDirectory("gantry-logs-test");
    registry.add("gantry.data-dir", dataDir::toString);
    registry.add("gantry.observability.log-follows-per-deployment", () -> "2");
    registry.add(
        "spring.datasource.url",
        () ->
            "jdbc:h2:mem:logs;DB_CLOSE_DELAY=-1"
                + dev.gantry.infra.db.EmbeddedDatabase.POSTGRES_COMPATIBILITY);
  }

  /** The local runtime, with engines that "run" when a test says so. */
  static class FollowableRuntime extends LocalWorkerRuntime {
    final Set<String> running = ConcurrentHashMap.newKeySet();

    FollowableRuntime(GantryProperties p, GpuInventory i, EngineLaunchSpecs s) {
      super(p, i, s);
    }

    @Override
    public Optional<RunningWorker> find(String workerId) {
      return running.contains(workerId)
          ? Optional.of(new RunningWorker(workerId, 1, 1, "http://x", null, 0, "/", "/", null))
          : Optional.empty();
    }
  }

  @TestConfiguration
  static class App {
    @Bean
    @Primary
    FollowableRuntime followableRuntime(GantryProperties p, GpuInventory i, EngineLaunchSpecs s) {
      return new FollowableRuntime(p, i, s);
    }
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired JdbcClient jdbc;
  @Autowired FollowableRuntime runtime;
  @Autowired WorkerLogService service;

  WebTestClient http;
  String acme;
  String globex;
  String id;

  @BeforeEach
  void setUp() throws IOException {
    jdbc.sql("delete from workers").update();
    jdbc.sql("delete from deployments").update();
    jdbc.sql("delete from secrets").update();
    runtime.running.clear();
    http =
        WebTestClient.bindToServer()
            .baseUrl("http://localhost:" + port)
            .responseTimeout(Duration.ofSeconds(30))
            .build();
    acme = apiKeys.issue("acme", "acme", false).key();
    globex = apiKeys.issue("globex", "globex", false).key();
    var created =
        http.post()
            .uri("/api/v1/deployments")
            .header("Authorization", "Bearer " + acme)
            .contentType(MediaType.APPLICATION_JSON)
            .bodyValue(
                Map.of(
                    "name",
                    "chat",
                    "model",
                    "tiny-llama",
                    "framework",
                    "sim",
                    "env",
                    Map.of("HF_TOKEN", SECRET)))
            .exchange()
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    id = (String) created.get("id");
    worker(1, Instant.now().minusSeconds(600), true);
    worker(2, Instant.now().minusSeconds(60), false);
    log(1, "old worker started\nold worker stopped\n");
    log(2, "listening\nloaded with " + SECRET + " and hf_abcdefghijklmnop\nready\n");
  }

  private void worker(int ordinal, Instant created, boolean stopped) {
    jdbc.sql(
            "insert into workers (id, deployment_id, ordinal, status, gpu_count, created_at,"
                + " stopped_at) values (:id, :dep, :ordinal, :status, 1, :created, :stopped)")
        .param("id", id + "-w" + ordinal)
        .param("dep", id)
        .param("ordinal", ordinal)
        .param("status", stopped ? "stopped" : "healthy")
        .param("created", OffsetDateTime.ofInstant(created, ZoneOffset.UTC))
        .param("stopped", stopped ? OffsetDateTime.now(ZoneOffset.UTC) : null)
        .update();
  }

  private void log(int ordinal, String text) throws IOException {
    Path dir = dataDir.resolve("logs").resolve("workers");
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve(id + "-w" + ordinal + ".log"),
        text,
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }

  private WebTestClient.ResponseSpec get(String key, String query) {
    return http.get()
        .uri("/api/v1/deployments/" + id + "/logs" + query)
        .header("Authorization", "Bearer " + key)
        .exchange();
  }

  @Test
  void theTailOfEveryListedWorkerNewestFirstWithSecretsMasked() {
    String raw =
        get(acme, "")
            .expectStatus()
            .isOk()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(raw).doesNotContain(SECRET).doesNotContain("hf_abcdefghijklmnop");
    get(acme, "")
        .expectBody()
        .jsonPath("$.data.length()")
        .isEqualTo(2)
        .jsonPath("$.data[0].worker_id")
        .isEqualTo(id + "-w2")
        .jsonPath("$.data[0].status")
        .isEqualTo("healthy")
        .jsonPath("$.data[0].lines[1]")
        .isEqualTo("loaded with *** and ***")
        .jsonPath("$.data[1].worker_id")
        .isEqualTo(id + "-w1")
        .jsonPath("$.data[1].status")
        .isEqualTo("stopped");
    get(acme, "?worker=" + id + "-w1&tail=1")
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.data.length()")
        .isEqualTo(1)
        .jsonPath("$.data[0].lines")
        .isEqualTo(List.of("old worker stopped"));
  }

  @Test
  void otherTenantsUnknownWorkersAndBadOptionsAreRefused() {
    get(globex, "").expectStatus().isNotFound();
    get(globex, "?worker=" + id + "-w2&follow=true").expectStatus().isNotFound();
    get(acme, "?worker=" + id + "-w9").expectStatus().isNotFound();
    get(acme, "?worker=dep_other-w1&follow=true").expectStatus().isNotFound();
    get(acme, "?tail=5001&follow=maybe")
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[*].field")
        .isEqualTo(List.of("tail", "follow"));
    get(acme, "?follow=true")
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[0].field")
        .isEqualTo("worker");
  }

  @Test
  void followingAStoppedWorkerGivesItsTailAndEndsAtOnce() {
    List<String> events =
        http.get()
            .uri("/api/v1/deployments/" + id + "/logs?worker=" + id + "-w1&follow=true")
            .header("Authorization", "Bearer " + acme)
            .accept(MediaType.TEXT_EVENT_STREAM)
            .exchange()
            .expectStatus()
            .isOk()
            .expectHeader()
            .contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM)
            .returnResult(String.class)
            .getResponseBody()
            .collectList()
            .block(Duration.ofSeconds(20));
    assertThat(events)
        .containsExactly(
            "{\"worker_id\":\"" + id + "-w1\",\"line\":\"old worker started\"}",
            "{\"worker_id\":\"" + id + "-w1\",\"line\":\"old worker stopped\"}",
            "{\"worker_id\":\"" + id + "-w1\"}");
  }

  private Disposable follow(String worker, List<String> into) {
    return http.get()
        .uri("/api/v1/deployments/" + id + "/logs?tail=1&follow=true&worker=" + worker)
        .header("Authorization", "Bearer " + acme)
        .accept(MediaType.TEXT_EVENT_STREAM)
        .exchange()
        .expectStatus()
        .isOk()
        .returnResult(String.class)
        .getResponseBody()
        .subscribe(into::add);
  }

  @Test
  void aLiveFollowStreamsNewLinesEndsWhenTheWorkerStopsAndLeavesNothingBehind() throws IOException {
    String w2 = id + "-w2";
    runtime.running.add(w2);
    List<String> events = new CopyOnWriteArrayList<>();
    Disposable first = follow(w2, events);
    await().until(() -> events.size() == 1);
    assertThat(events.getFirst()).contains("\"line\":\"ready\"");

    log(2, "generated with " + SECRET + "\n");
    await().until(() -> events.size() == 2);
    assertThat(events.get(1)).contains("\"line\":\"generated with ***\"");

    // Two follows per deployment and tenant at most (this test's setting): the third is 429.
    List<String> other = new ArrayList<>();
    Disposable second = follow(w2, other);
    await().until(() -> service.activeFollows() == 2);
    get(acme, "?worker=" + w2 + "&follow=true")
        .expectStatus()
        .isEqualTo(429)
        .expectBody()
        .jsonPath("$.detail")
        .value(d -> assertThat((String) d).contains("log-follows-per-deployment"));

    // A client that leaves ends its follow: no tailer thread, no permit left behind.
    second.dispose();
    await().until(() -> service.activeFollows() == 1 && runtime.activeLogFollows() == 1);

    // The worker stops: the stream ends with the end event.
    runtime.running.remove(w2);
    await().until(() -> events.size() == 3);
    assertThat(events.get(2)).isEqualTo("{\"worker_id\":\"" + w2 + "\"}");
    await().until(() -> service.activeFollows() == 0 && runtime.activeLogFollows() == 0);
    first.dispose();
  }
}
