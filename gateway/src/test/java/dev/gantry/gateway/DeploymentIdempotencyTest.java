package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gantry.infra.auth.ApiKeys;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;

/** {@code Idempotency-Key} on {@code POST /api/v1/deployments}. */
@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DeploymentIdempotencyTest {
  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "idem");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired FakeOrchestrator orchestrator;
  @Autowired JdbcClient jdbc;

  WebTestClient http;
  String acme;
  String globex;

  @BeforeEach
  void setUp() {
    jdbc.sql("delete from deployment_idempotency").update();
    jdbc.sql("delete from deployments").update();
    orchestrator.reset();
    http =
        WebTestClient.bindToServer()
            .baseUrl("http://localhost:" + port)
            .responseTimeout(Duration.ofSeconds(30))
            .build();
    acme = apiKeys.issue("acme", "acme", false).key();
    globex = apiKeys.issue("globex", "globex", false).key();
  }

  static Map<String, Object> body(String name) {
    var body = new LinkedHashMap<String, Object>();
    body.put("name", name);
    body.put("model", "tiny-llama");
    body.put("framework", "sim");
    body.put("env", Map.of("HF_TOKEN", "hf_secret"));
    return body;
  }

  EntityExchangeResult<Map> create(String key, Object body, String idempotencyKey) {
    return http.post()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + key)
        .header("Idempotency-Key", idempotencyKey)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(body)
        .exchange()
        .expectBody(Map.class)
        .returnResult();
  }

  long deployments(String tenant) {
    return jdbc.sql("select count(*) from deployments where tenant_id = :t")
        .param("t", tenant)
        .query(Long.class)
        .single();
  }

  @Test
  void theSameRequestWithTheSameKeyAnswersTheFirstDeployment() {
    var first = create(acme, body("chat"), "order-1");
    // The same request, its fields in another order.
    var reordered = new LinkedHashMap<String, Object>();
    var original = body("chat");
    new ArrayList<>(original.keySet()).reversed().forEach(k -> reordered.put(k, original.get(k)));
    var second = create(acme, reordered, "order-1");

    assertThat(first.getStatus().value()).isEqualTo(201);
    assertThat(second.getStatus().value()).isEqualTo(201);
    assertThat(second.getResponseBody().get("id")).isEqualTo(first.getResponseBody().get("id"));
    assertThat(second.getResponseHeaders().getFirst("Idempotent-Replayed")).isEqualTo("true");
    assertThat(first.getResponseHeaders().getFirst("Idempotent-Replayed")).isNull();
    assertThat(second.getResponseBody().get("env")).isEqualTo(Map.of("HF_TOKEN", "***"));
    assertThat(deployments("acme")).isEqualTo(1);
    assertThat(orchestrator.started).hasSize(1);
  }

  @Test
  void aDifferentRequestWithAUsedKeyIs422AndCreatesNothing() {
    create(acme, body("chat"), "order-2");

    var other = create(acme, body("other-name"), "order-2");

    assertThat(other.getStatus().value()).isEqualTo(422);
    assertThat(deployments("acme")).isEqualTo(1);
  }

  @Test
  void keysArePerTenant() {
    var mine = create(acme, body("chat"), "shared-key");
    var theirs = create(globex, body("chat"), "shared-key");

    assertThat(theirs.getStatus().value()).isEqualTo(201);
    assertThat(theirs.getResponseBody().get("id")).isNotEqualTo(mine.getResponseBody().get("id"));
    assertThat(theirs.getResponseHeaders().getFirst("Idempotent-Replayed")).isNull();
  }

  @Test
  void concurrentCreatesWithOneKeyMakeOneDeployment() {
    var answers = new ArrayList<CompletableFuture<EntityExchangeResult<Map>>>();
    for (int i = 0; i < 8; i++) {
      answers.add(CompletableFuture.supplyAsync(() -> create(acme, body("chat"), "race")));
    }
    var ids = new java.util.HashSet<Object>();
    for (var answer : answers) {
      var result = answer.join();
      assertThat(result.getStatus().value()).isIn(201, 409);
      if (result.getStatus().value() == 201) {
        ids.add(result.getResponseBody().get("id"));
      }
    }

    assertThat(ids).hasSize(1);
    assertThat(deployments("acme")).isEqualTo(1);
    assertThat(create(acme, body("chat"), "race").getResponseBody().get("id")).isIn(ids);
  }

  @Test
  void aRepeatWhileTheFirstCreateIsUnderWayIs409() {
    var hold = new CountDownLatch(1);
    orchestrator.holdStarts = hold;
    var first = CompletableFuture.supplyAsync(() -> create(acme, body("chat"), "slow"));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                jdbc.sql("select count(*) from deployment_idempotency where started = false")
                        .query(Long.class)
                        .single()
                    == 1);

    assertThat(create(acme, body("chat"), "slow").getStatus().value()).isEqualTo(409);

    hold.countDown();
    var created = first.join();
    assertThat(created.getStatus().value()).isEqualTo(201);
    var repeat = create(acme, body("chat"), "slow");
    assertThat(repeat.getStatus().value()).isEqualTo(201);
    assertThat(repeat.getResponseBody().get("id")).isEqualTo(created.getResponseBody().get("id"));
  }

  @Test
  void aCreateThatFailedLeavesItsKeyFree() {
    orchestrator.failStarts = true;
    assertThat(create(acme, body("chat"), "retry-me").getStatus().value()).isEqualTo(503);
    orchestrator.failStarts = false;

    var retried = create(acme, body("chat"), "retry-me");

    assertThat(retried.getStatus().value()).isEqualTo(201);
    assertThat(retried.getResponseHeaders().getFirst("Idempotent-Replayed")).isNull();
    assertThat(deployments("acme")).isEqualTo(1);
  }

  @Test
  void anInvalidKeyOrRequestIsRefusedAndLeavesTheKeyUnused() {
    assertThat(create(acme, body("chat"), "x".repeat(256)).getStatus().value()).isEqualTo(400);
    assertThat(create(acme, body("chat"), "has space").getStatus().value()).isEqualTo(400);
    var invalid = body("chat");
    invalid.put("max_workers", 0);
    assertThat(create(acme, invalid, "k-3").getStatus().value()).isEqualTo(400);

    assertThat(create(acme, body("chat"), "k-3").getStatus().value()).isEqualTo(201);
    assertThat(deployments("acme")).isEqualTo(1);
  }

  @Test
  void withoutAKeyEveryCreateCreates() {
    for (int i = 0; i < 2; i++) {
      http.post()
          .uri("/api/v1/deployments")
          .header("Authorization", "Bearer " + acme)
          .contentType(MediaType.APPLICATION_JSON)
          .bodyValue(body("chat"))
          .exchange()
          .expectStatus()
          .isCreated();
    }
    assertThat(deployments("acme")).isEqualTo(2);
    assertThat(
            List.of(
                jdbc.sql("select count(*) from deployment_idempotency").query(Long.class).single()))
        .containsExactly(0L);
  }
}
