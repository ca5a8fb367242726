package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.db.WorkerRepository.WorkerTransition;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class UsageApiTest {
  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    var dir = Files.createTempDirectory("gantry-usage-test");
    registry.add("gantry.data-dir", dir::toString);
    registry.add(
        "spring.datasource.url",
        () ->
            "jdbc:h2:mem:usage;DB_CLOSE_DELAY=-1"
                + dev.gantry.infra.db.EmbeddedDatabase.POSTGRES_COMPATIBILITY);
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired JdbcClient jdbc;
  @Autowired WorkerRepository workerRepository;

  WebTestClient http;
  String acme;
  String globex;
  String id;

  /** The report's start: whole hours, so buckets are the hours after it. */
  Instant t0;

  @BeforeEach
  void setUp() {
    for (String table : List.of("usage_records", "worker_intervals", "workers", "deployments")) {
      jdbc.sql("delete from " + table).update();
    }
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
            .bodyValue(Map.of("name", "chat", "model", "tiny-llama", "framework", "sim"))
            .exchange()
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    id = (String) created.get("id");
    t0 = Instant.now().truncatedTo(ChronoUnit.HOURS).minus(Duration.ofHours(5));
    jdbc.sql("update deployments set created_at = :t where id = :id")
        .param("t", utc(t0.minus(Duration.ofHours(1))))
        .param("id", id)
        .update();
  }

  private static OffsetDateTime utc(Instant t) {
    return t == null ? null : OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
  }

  private void interval(String worker, Instant start, Instant end) {
    jdbc.sql(
            "insert into worker_intervals (worker_id, deployment_id, gpu_type, gpu_count,"
                + " started_at, ended_at) values (:w, :dep, 'H100', 1, :start, :end)")
        .param("w", worker)
        .param("dep", id)
        .param("start", utc(start))
        .param("end", utc(end))
        .update();
  }

  private void request(
      String worker, int status, int prompt, int completion, Instant at, long ms, Long ttft) {
    jdbc.sql(
            "insert into usage_records (request_id, deployment_id, tenant_id, worker_id, route,"
                + " status, prompt_tokens, completion_tokens, streamed, started_at, duration_ms,"
                + " ttft_ms) values ('r', :dep, 'acme', :w, 'chat/completions', :status, :p, :c,"
                + " false, :at, :ms, :ttft)")
        .param("dep", id)
        .param("w", worker)
        .param("status", status)
        .param("p", prompt)
        .param("c", completion)
        .param("at", utc(at))
        .param("ms", ms)
        .param("ttft", ttft)
        .update();
  }

  private void seed() {
    String w1 = id + "-w1";
    interval(w1, t0.plus(Duration.ofMinutes(30)), t0.plus(Duration.ofMinutes(90)));
    interval(id + "-w2", t0.plus(Duration.ofMinutes(100)), null);
    request(w1, 200, 10, 20, t0.plus(Duration.ofMinutes(40)), 100, 40L);
    request(w1, 200, 10, 50, t0.plus(Duration.ofMinutes(41)), 300, 60L);
    request(null, 429, 0, 0, t0.plus(Duration.ofMinutes(42)), 5, null);
    request(w1, 500, 0, 0, t0.plus(Duration.ofMinutes(70)), 50, null);
    // Outside the period: not counted.
    request(w1, 200, 99, 99, t0.plus(Duration.ofMinutes(130)), 10, 5L);
  }

  private WebTestClient.ResponseSpec get(String key, String path) {
    return http.get().uri(path).header("Authorization", "Bearer " + key).exchange();
  }

  private String range() {
    return "?from=" + t0 + "&to=" + t0.plus(Duration.ofHours(2)) + "&step=3600";
  }

  @Test
  void bucketsCountRequestsTokensLatenciesWorkersAndCost() {
    seed();
    get(acme, "/api/v1/deployments/" + id + "/usage" + range())
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.step_seconds")
        .isEqualTo(3600)
        .jsonPath("$.from")
        .isEqualTo(t0.toString())
        .jsonPath("$.buckets.length()")
        .isEqualTo(2)
        .jsonPath("$.buckets[0].start")
        .isEqualTo(t0.toString())
        .jsonPath("$.buckets[0].requests")
        .isEqualTo(Map.of("ok", 2, "client_error", 0, "server_error", 0, "refused", 1))
        .jsonPath("$.buckets[0].prompt_tokens")
        .isEqualTo(20)
        .jsonPath("$.buckets[0].completion_tokens")
        .isEqualTo(70)
        .jsonPath("$.buckets[0].ttft_ms.p50")
        .isEqualTo(40)
        .jsonPath("$.buckets[0].ttft_ms.p95")
        .isEqualTo(60)
        .jsonPath("$.buckets[0].latency_ms.p50")
        .isEqualTo(100)
        .jsonPath("$.buckets[0].latency_ms.p99")
        .isEqualTo(300)
        .jsonPath("$.buckets[0].cold_starts")
        .isEqualTo(1)
        .jsonPath("$.buckets[0].worker_seconds.H100")
        .isEqualTo(1800.0)
        .jsonPath("$.buckets[0].cost_usd.workers")
        .isEqualTo(1.495)
        .jsonPath("$.buckets[0].cost_usd.storage")
        .isEqualTo(0.006849)
        .jsonPath("$.buckets[0].cost_usd.total")
        .isEqualTo(1.501849)
        .jsonPath("$.buckets[1].requests.server_error")
        .isEqualTo(1)
        .jsonPath("$.buckets[1].ttft_ms.p50")
        .isEmpty()
        .jsonPath("$.buckets[1].worker_seconds.H100")
        .isEqualTo(3000.0)
        .jsonPath("$.buckets[1].cost_usd.workers")
        .isEqualTo(2.491667)
        .jsonPath("$.totals.cold_starts")
        .isEqualTo(2)
        .jsonPath("$.totals.requests.ok")
        .isEqualTo(2)
        .jsonPath("$.totals.cost_usd.workers")
        .isEqualTo(3.986667)
        // w1's 2.99 in the period, split by duration x tokens: 3000, 18000 and 50 of 21050.
        .jsonPath("$.cost_per_request_usd.mean")
        .isEqualTo(0.996667)
        .jsonPath("$.cost_per_request_usd.p50")
        .isEqualTo(0.426128)
        .jsonPath("$.cost_per_request_usd.p95")
        .isEqualTo(2.55677)
        .jsonPath("$.deployments")
        .doesNotExist();
  }

  @Test
  void costComesFromTheIntervalsAndNeverGoesDownWhenWorkerRowsGo() {
    seed();
    BigDecimal before = accrued();
    // One hour of w1 plus w2 open for over three hours, and storage for six.
    assertThat(before).isGreaterThan(new BigDecimal("2.99").add(new BigDecimal("9.0")));
    jdbc.sql("delete from workers").update();
    assertThat(accrued()).isGreaterThanOrEqualTo(before);
  }

  private BigDecimal accrued() {
    var body =
        get(acme, "/api/v1/deployments/" + id)
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    return new BigDecimal(body.get("accrued_cost_usd").toString());
  }

  @Test
  void theActivitiesWorkerWritesOpenAndCloseOneIntervalOnce() {
    String w = id + "-w7";
    workerRepository.record(
        new WorkerTransition(id, w, 7, WorkerStatus.PROVISIONING, null, 0, null, null));
    workerRepository.record(
        new WorkerTransition(id, w, 7, WorkerStatus.HEALTHY, "H100", 1, "http://x", null));
    var open = workerRepository.intervals(id);
    assertThat(open).hasSize(1);
    assertThat(open.getFirst().gpuType()).isEqualTo("H100");
    assertThat(open.getFirst().endedAt()).isNull();

    workerRepository.record(
        new WorkerTransition(id, w, 7, WorkerStatus.STOPPED, null, 1, null, null));
    var closed = workerRepository.intervals(id).getFirst();
    assertThat(closed.endedAt()).isNotNull();
    // A late or retried write cannot reopen or move it.
    workerRepository.record(
        new WorkerTransition(id, w, 7, WorkerStatus.HEALTHY, "H100", 1, "http://x", null));
    workerRepository.markStopped(w, "gone");
    assertThat(workerRepository.intervals(id)).containsExactly(closed);
  }

  @Test
  void theTenantReportListsEachDeploymentsCostAndOnlyTheCallersOwn() {
    seed();
    get(acme, "/api/v1/usage" + range())
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.deployments.length()")
        .isEqualTo(1)
        .jsonPath("$.deployments[0].id")
        .isEqualTo(id)
        .jsonPath("$.deployments[0].name")
        .isEqualTo("chat")
        .jsonPath("$.deployments[0].cost_usd")
        .isEqualTo(4.000365)
        .jsonPath("$.totals.requests.refused")
        .isEqualTo(1);
    get(globex, "/api/v1/usage" + range())
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.deployments.length()")
        .isEqualTo(0)
        .jsonPath("$.totals.requests.ok")
        .isEqualTo(0)
        .jsonPath("$.cost_per_request_usd.mean")
        .isEmpty();
    get(globex, "/api/v1/deployments/" + id + "/usage").expectStatus().isNotFound();
  }

  @Test
  void defaultsAndInvalidRangesNameTheirField() {
    get(acme, "/api/v1/deployments/" + id + "/usage")
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.step_seconds")
        .isEqualTo(3600)
        .jsonPath("$.buckets.length()")
        .isEqualTo(24);
    get(acme, "/api/v1/usage?step=59")
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[0].field")
        .isEqualTo("step");
    get(acme, "/api/v1/usage?step=60")
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[0].field")
        .isEqualTo("step");
    get(acme, "/api/v1/usage?from=" + t0 + "&to=" + t0.minusSeconds(60))
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[0].field")
        .isEqualTo("from");
    get(acme, "/api/v1/usage?to=yesterday")
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[0].field")
        .isEqualTo("to");
  }
}
