package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.DeploymentRepository;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
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
class ManagementApiTest {
  static final String SECRET = "hf_thisMustNeverBeReturned42";

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    Path dir = Files.createTempDirectory("gantry-gw-test");
    registry.add("gantry.data-dir", dir::toString);
    registry.add("gantry.limits.max-deployments-per-tenant", () -> "4");
    registry.add("gantry.models.allowed-endpoints", () -> "https://mirror.example/hf");
    registry.add(
        "spring.datasource.url",
        () ->
            "jdbc:h2:mem:gw;DB_CLOSE_DELAY=-1"
                + dev.gantry.infra.db.EmbeddedDatabase.POSTGRES_COMPATIBILITY);
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyRepository keyRepository;
  @Autowired ApiKeyCache keyCache;
  @Autowired DeploymentRepository deployments;
  @Autowired FakeOrchestrator orchestrator;
  @Autowired JdbcClient jdbc;

  WebTestClient http;
  String admin;
  String acme;
  String globex;

  @BeforeEach
  void setUp() {
    jdbc.sql("delete from workers").update();
    jdbc.sql("delete from worker_intervals").update();
    jdbc.sql("delete from deployments").update();
    jdbc.sql("delete from secrets").update();
    orchestrator.reset();
    http = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
    admin = apiKeys.issue("default", "admin", true).key();
    acme = apiKeys.issue("acme", "acme", false).key();
    globex = apiKeys.issue("globex", "globex", false).key();
  }

  static Map<String, Object> validSim() {
    return Map.of(
        "name", "chat",
        "model", "tiny-llama",
        "framework", "sim",
        "env", Map.of("HF_TOKEN", SECRET),
        "framework_args", List.of("--max-tokens-default=2048"));
  }

  WebTestClient.ResponseSpec create(String key, Object body) {
    return http.post()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + key)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(body)
        .exchange();
  }

  String createdId(String key) {
    var body =
        create(key, validSim())
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    return (String) body.get("id");
  }

  @Test
  void createReturnsTheDeploymentWithDefaultsAndMaskedEnv() {
    var raw =
        create(acme, validSim())
            .expectStatus()
            .isCreated()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(raw).doesNotContain(SECRET);

    create(acme, validSim())
        .expectStatus()
        .isCreated()
        .expectBody()
        .jsonPath("$.id")
        .value(id -> assertThat((String) id).startsWith("dep_"))
        .jsonPath("$.status")
        .isEqualTo("starting")
        .jsonPath("$.status_reason")
        .doesNotExist()
        .jsonPath("$.framework")
        .isEqualTo("sim")
        .jsonPath("$.min_workers")
        .isEqualTo(0)
        .jsonPath("$.max_workers")
        .isEqualTo(1)
        .jsonPath("$.concurrency")
        .isEqualTo(8)
        .jsonPath("$.idle_timeout_seconds")
        .isEqualTo(300)
        .jsonPath("$.wait_time_seconds")
        .isEqualTo(60)
        .jsonPath("$.storage_gb")
        .isEqualTo(50)
        .jsonPath("$.env.HF_TOKEN")
        .isEqualTo("***")
        .jsonPath("$.framework_args[0]")
        .isEqualTo("--max-tokens-default=2048")
        .jsonPath("$.workers.total")
        .isEqualTo(0)
        .jsonPath("$.openai_base_url")
        .value(u -> assertThat((String) u).matches("http://localhost:\\d+/openai/dep_\\w+/v1"));

    var input = orchestrator.started.get(0);
    assertThat(input.secretRef()).startsWith("sec_");
    assertThat(input.spec().envNames()).containsExactly("HF_TOKEN");
    assertThat(input.toString()).doesNotContain(SECRET);
  }

  @Test
  void getAndListShowTheStateTheWorkflowWrote() {
    String id = createdId(acme);
    http.get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.status")
        .isEqualTo("running");
    createdId(acme);
    http.get()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.length()")
        .isEqualTo(2)
        .jsonPath("$[1].id")
        .isEqualTo(id);
    http.get()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + globex)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.length()")
        .isEqualTo(0);
  }

  @Test
  void theDeploymentShowsWorkersByStateAndThisGatewaysQueue() {
    String id = createdId(acme);
    int ordinal = 1;
    for (String status : List.of("provisioning", "healthy", "draining", "failed", "failed")) {
      jdbc.sql(
              "insert into workers (id, deployment_id, ordinal, status, gpu_count, created_at,"
                  + " stopped_at) values (:id, :dep, :ordinal, :status, 1, current_timestamp,"
                  + " case when :ended then current_timestamp else null end)")
          .param("id", id + "-w" + ordinal)
          .param("dep", id)
          .param("ordinal", ordinal++)
          .param("status", status)
          .param("ended", status.equals("failed"))
          .update();
    }
    http.get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.workers.provisioning")
        .isEqualTo(1)
        .jsonPath("$.workers.healthy")
        .isEqualTo(1)
        .jsonPath("$.workers.draining")
        .isEqualTo(1)
        .jsonPath("$.workers.total")
        .isEqualTo(3)
        .jsonPath("$.workers.failed")
        .isEqualTo(2)
        .jsonPath("$.queue.in_flight")
        .isEqualTo(0)
        .jsonPath("$.queue.queued")
        .isEqualTo(0);
  }

  WebTestClient.ResponseSpec demand(String key, String id, Object body) {
    return http.post()
        .uri("/api/v1/deployments/" + id + "/demand")
        .header("Authorization", "Bearer " + key)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(body)
        .exchange();
  }

  @Test
  void demandReportsReachTheAutoscalerOnlyWhenValidAndOwned() {
    String id = createdId(acme);
    jdbc.sql(
            "insert into workers (id, deployment_id, ordinal, status, gpu_count, created_at)"
                + " values (:id, :dep, 1, 'healthy', 1, current_timestamp)")
        .param("id", id + "-w1")
        .param("dep", id)
        .update();

    demand(acme, id, Map.of("in_flight", 3, "queued", 17, "active_workers", List.of(id + "-w1")))
        .expectStatus()
        .isAccepted();
    assertThat(orchestrator.demand)
        .containsExactly(new dev.gantry.api.deployment.DemandReport(3, 17));
    assertThat(orchestrator.activeWorkers).containsExactly(id + "-w1");

    demand(globex, id, Map.of("queued", 1)).expectStatus().isNotFound();
    demand(acme, id, Map.of("queued", -1, "in_flight", "many"))
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors.length()")
        .isEqualTo(2);
    demand(acme, id, Map.of("queued", 1, "active_workers", List.of("dep_other-w1")))
        .expectStatus()
        .isEqualTo(422);
    assertThat(orchestrator.demand).hasSize(1);

    http.delete()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isAccepted();
    demand(acme, id, Map.of("queued", 1)).expectStatus().isEqualTo(409);
    assertThat(orchestrator.demand).hasSize(1);
  }

  @Test
  void eachWorkerShowsItsColdStartStepsAndTheTimesBetweenThemNullWhereNotReached() {
    String id = createdId(acme);
    jdbc.sql(
            """
            insert into workers (id, deployment_id, ordinal, status, gpu_count, created_at,
              decided_at, process_started_at, healthy_at, first_routed_at)
            values (:id, :dep, 1, 'healthy', 1, timestamp with time zone '2026-12-06 10:00:00.300Z',
              timestamp with time zone '2026-12-06 10:00:00.050Z',
              timestamp with time zone '2026-12-06 10:00:00.290Z',
              timestamp with time zone '2026-12-06 10:00:02.540Z',
              timestamp with time zone '2026-12-06 10:00:02.600Z')
            """)
        .param("id", id + "-w1")
        .param("dep", id)
        .update();
    jdbc.sql(
            """
            insert into workers (id, deployment_id, ordinal, status, gpu_count, created_at,
              decided_at, process_started_at)
            values (:id, :dep, 2, 'provisioning', 1,
              timestamp with time zone '2026-12-06 10:00:01.000Z',
              timestamp with time zone '2026-12-06 10:00:00.900Z',
              timestamp with time zone '2026-12-06 10:00:01.000Z')
            """)
        .param("id", id + "-w2")
        .param("dep", id)
        .update();

    http.get()
        .uri("/api/v1/deployments/" + id + "/workers")
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$[0].id")
        .isEqualTo(id + "-w1")
        .jsonPath("$[0].cold_start.decided_at")
        .isEqualTo("2026-12-06T10:00:00.050Z")
        .jsonPath("$[0].cold_start.process_started_at")
        .isEqualTo("2026-12-06T10:00:00.290Z")
        .jsonPath("$[0].cold_start.healthy_at")
        .isEqualTo("2026-12-06T10:00:02.540Z")
        .jsonPath("$[0].cold_start.first_routed_at")
        .isEqualTo("2026-12-06T10:00:02.600Z")
        .jsonPath("$[0].cold_start.provision_ms")
        .isEqualTo(240)
        .jsonPath("$[0].cold_start.boot_ms")
        .isEqualTo(2250)
        .jsonPath("$[0].cold_start.first_request_ms")
        .isEqualTo(60)
        .jsonPath("$[0].cold_start.total_ms")
        .isEqualTo(2550)
        .jsonPath("$[1].cold_start.provision_ms")
        .isEqualTo(100)
        // Not reached yet: present, and null.
        .jsonPath("$[1].cold_start.healthy_at")
        .isEmpty()
        .jsonPath("$[1].cold_start.boot_ms")
        .isEmpty()
        .jsonPath("$[1].cold_start.first_request_ms")
        .isEmpty()
        .jsonPath("$[1].cold_start.total_ms")
        .isEmpty()
        .jsonPath("$[1].cold_start.first_routed_at")
        .isEmpty();
    String raw =
        http.get()
            .uri("/api/v1/deployments/" + id + "/workers")
            .header("Authorization", "Bearer " + acme)
            .exchange()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(raw).contains("\"first_request_ms\":null", "\"total_ms\":null");
  }

  @Test
  void anotherTenantGets404ExactlyLikeAnUnknownId() {
    String id = createdId(acme);
    for (var request :
        List.of(
            http.get().uri("/api/v1/deployments/" + id),
            http.get().uri("/api/v1/deployments/" + id + "/workers"),
            http.delete().uri("/api/v1/deployments/" + id))) {
      request
          .header("Authorization", "Bearer " + globex)
          .exchange()
          .expectStatus()
          .isNotFound()
          .expectHeader()
          .contentType(MediaType.APPLICATION_PROBLEM_JSON);
    }
    http.patch()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + globex)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("name", "x"))
        .exchange()
        .expectStatus()
        .isNotFound();
    http.get()
        .uri("/api/v1/deployments/dep_doesnotexist000000")
        .header("Authorization", "Bearer " + globex)
        .exchange()
        .expectStatus()
        .isNotFound();
    assertThat(orchestrator.deleted).isEmpty();
    assertThat(deployments.findById(id).orElseThrow().status()).isEqualTo(DeploymentStatus.RUNNING);
  }

  static Stream<Arguments> invalidBodies() {
    return Stream.of(
        Arguments.of(Map.of("name", "x", "model", "m", "framework", "tgi"), "framework"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "not a repo",
                "framework",
                "vllm",
                "gpu",
                Map.of("type", "H100")),
            "model"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "Qwen:7b",
                "framework",
                "ollama",
                "gpu",
                Map.of("type", "H100")),
            "model"),
        Arguments.of(Map.of("name", "x", "model", "Qwen/Qwen2.5-7B", "framework", "vllm"), "gpu"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "Qwen/Qwen2.5-7B",
                "framework",
                "vllm",
                "gpu",
                Map.of("type", "B999")),
            "gpu.type"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "m",
                "framework",
                "sim",
                "gpu",
                Map.of("type", "H100", "fallback_types", List.of("nope"))),
            "gpu.fallback_types[0]"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "min_workers", -1),
            "min_workers"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "max_workers", 0), "max_workers"),
        Arguments.of(
            Map.of(
                "name", "x", "model", "m", "framework", "sim", "min_workers", 3, "max_workers", 2),
            "max_workers"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "concurrency", 0), "concurrency"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "idle_timeout_seconds", 0),
            "idle_timeout_seconds"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "wait_time_seconds", -5),
            "wait_time_seconds"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "storage_gb", 0), "storage_gb"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "concurrency", 1.5),
            "concurrency"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "env", Map.of("hf-token", "v")),
            "env.hf-token"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "m",
                "framework",
                "sim",
                "framework_args",
                List.of("--port=9000")),
            "framework_args[0]"),
        Arguments.of(
            Map.of(
                "name", "x", "model", "m", "framework", "sim", "framework_args", List.of("--host")),
            "framework_args[0]"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "m",
                "framework",
                "sim",
                "framework_args",
                List.of("--a=$(reboot)")),
            "framework_args[0]"),
        Arguments.of(
            Map.of(
                "name", "x", "model", "m", "framework", "sim", "framework_args", List.of("--a b")),
            "framework_args[0]"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "m",
                "framework",
                "sim",
                "framework_args",
                List.of("--a=\u0007")),
            "framework_args[0]"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "framework_args", List.of("-x")),
            "framework_args[0]"),
        Arguments.of(
            Map.of(
                "name",
                "x",
                "model",
                "m",
                "framework",
                "sim",
                "framework_args",
                List.of("--trust-remote-code")),
            "framework_args[0]"),
        // Env names that would let a tenant run code on the host through the engine.
        Arguments.of(simWithEnv("JAVA_TOOL_OPTIONS"), "env.JAVA_TOOL_OPTIONS"),
        Arguments.of(simWithEnv("LD_PRELOAD"), "env.LD_PRELOAD"),
        Arguments.of(simWithEnv("PATH"), "env.PATH"),
        Arguments.of(simWithEnv("PYTHONPATH"), "env.PYTHONPATH"),
        Arguments.of(simWithEnv("HTTPS_PROXY"), "env.HTTPS_PROXY"),
        Arguments.of(simWithEnv("VLLM_PLUGINS"), "env.VLLM_PLUGINS"),
        // Spellings argparse would take for a denied flag, and flags that read host files.
        Arguments.of(vllmWithArg("--trust_remote_code"), "framework_args[0]"),
        Arguments.of(vllmWithArg("--trust-remote"), "framework_args[0]"),
        Arguments.of(vllmWithArg("--hos=0.0.0.0"), "framework_args[0]"),
        Arguments.of(vllmWithArg("--chat-template=/etc/shadow"), "framework_args[0]"),
        Arguments.of(vllmWithArg("--download-dir=/root"), "framework_args[0]"),
        Arguments.of(vllmWithArg("--max-model-len=lots"), "framework_args[0]"),
        Arguments.of(Map.of("name", "x".repeat(101), "model", "m", "framework", "sim"), "name"),
        Arguments.of(Map.of("model", "m", "framework", "sim"), "name"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "replicas", 3), "replicas"),
        Arguments.of(
            simWithAutoscaling(Map.of("target_utilization", 0)), "autoscaling.target_utilization"),
        Arguments.of(
            simWithAutoscaling(Map.of("target_utilization", 1.5)),
            "autoscaling.target_utilization"),
        Arguments.of(
            simWithAutoscaling(Map.of("target_utilization", "most")),
            "autoscaling.target_utilization"),
        Arguments.of(
            simWithAutoscaling(Map.of("scale_down_delay_seconds", -1)),
            "autoscaling.scale_down_delay_seconds"),
        Arguments.of(
            simWithAutoscaling(Map.of("scale_down_delay_seconds", 3601)),
            "autoscaling.scale_down_delay_seconds"),
        Arguments.of(simWithAutoscaling(Map.of("warm_buffer", 2)), "autoscaling.warm_buffer"),
        Arguments.of(
            simWithAutoscaling(Map.of("queue_delay_ms", 60_001)), "autoscaling.queue_delay_ms"),
        Arguments.of(simWithAutoscaling(Map.of("stabilization", 5)), "autoscaling.stabilization"),
        Arguments.of(
            Map.of("name", "x", "model", "m", "framework", "sim", "autoscaling", 5),
            "autoscaling"));
  }

  /** A sim deployment (max_workers 1, wait 60 s) with these autoscaling settings. */
  private static Map<String, Object> simWithAutoscaling(Map<String, Object> autoscaling) {
    return Map.of("name", "x", "model", "m", "framework", "sim", "autoscaling", autoscaling);
  }

  @Test
  void autoscalingSettingsAreKeptAndShownWithTheirDefaults() {
    var body = new java.util.HashMap<>(validSim());
    body.put("max_workers", 4);
    body.put(
        "autoscaling", Map.of("target_utilization", 0.8, "warm_buffer", 1, "queue_delay_ms", 500));
    create(acme, body)
        .expectStatus()
        .isCreated()
        .expectBody()
        .jsonPath("$.autoscaling.target_utilization")
        .isEqualTo(0.8)
        .jsonPath("$.autoscaling.scale_down_delay_seconds")
        .isEmpty()
        .jsonPath("$.autoscaling.warm_buffer")
        .isEqualTo(1)
        .jsonPath("$.autoscaling.queue_delay_ms")
        .isEqualTo(500);
    var spec = orchestrator.started.getLast().spec();
    assertThat(spec.scalingPolicy().targetSlots()).isEqualTo(6); // 0.8 x concurrency 8
    assertThat(spec.scalingPolicy().scaleDownDelayMillis())
        .isEqualTo(dev.gantry.autoscaler.ScalingPolicy.AUTO_DELAY);

    create(acme, validSim())
        .expectStatus()
        .isCreated()
        .expectBody()
        .jsonPath("$.autoscaling.target_utilization")
        .isEqualTo(1.0)
        .jsonPath("$.autoscaling.warm_buffer")
        .isEqualTo(0)
        .jsonPath("$.autoscaling.queue_delay_ms")
        .isEqualTo(0);
  }

  @ParameterizedTest
  @MethodSource("invalidBodies")
  void invalidInputIs400WithTheFieldAndCreatesNothing(Map<String, Object> body, String field) {
    create(acme, body)
        .expectStatus()
        .isBadRequest()
        .expectHeader()
        .contentType(MediaType.APPLICATION_PROBLEM_JSON)
        .expectBody()
        .jsonPath("$.status")
        .isEqualTo(400)
        .jsonPath("$.title")
        .isEqualTo("Bad Request")
        .jsonPath("$.errors[?(@.field == '" + field + "')]")
        .exists();
    assertThat(deployments.list("acme")).isEmpty();
    assertThat(orchestrator.started).isEmpty();
    assertThat(jdbc.sql("select count(*) from secrets").query(Long.class).single()).isZero();
  }

  static Map<String, Object> simWithEnv(String name) {
    return Map.of("name", "x", "model", "m", "framework", "sim", "env", Map.of(name, "v"));
  }

  static Map<String, Object> vllmWithArg(String arg) {
    return Map.of(
        "name",
        "x",
        "model",
        "org/model",
        "framework",
        "vllm",
        "gpu",
        Map.of("type", "H100"),
        "framework_args",
        List.of(arg));
  }

  @Test
  void trustRemoteCodeIsForAdminsOnly() {
    var body = vllmWithArg("--trust-remote-code");
    create(acme, body)
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[0].message")
        .isEqualTo("--trust-remote-code requires an admin API key");
    create(admin, body).expectStatus().isCreated();
  }

  @Test
  void aRefusedEnvNameIsNamedInTheErrorWithoutItsValue() {
    var raw =
        create(acme, simWithEnv("JAVA_TOOL_OPTIONS"))
            .expectStatus()
            .isBadRequest()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(raw).contains("env.JAVA_TOOL_OPTIONS").contains("JAVA_TOOL_OPTIONS cannot be set");
  }

  @Test
  void malformedJsonIs400Problem() {
    http.post()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue("{\"name\":")
        .exchange()
        .expectStatus()
        .isBadRequest()
        .expectHeader()
        .contentType(MediaType.APPLICATION_PROBLEM_JSON)
        .expectBody()
        .jsonPath("$.type")
        .isEqualTo("about:blank")
        .jsonPath("$.status")
        .isEqualTo(400);
    assertThat(deployments.list("acme")).isEmpty();
  }

  @Test
  void aFailedWorkflowStartLeavesNothingBehind() {
    orchestrator.failStarts = true;
    create(acme, validSim()).expectStatus().isEqualTo(503);
    assertThat(deployments.list("acme")).isEmpty();
    assertThat(jdbc.sql("select count(*) from secrets").query(Long.class).single()).isZero();
  }

  @Test
  void everyAuthenticationFailureLooksTheSame() {
    String revoked = apiKeys.issue("acme", "old", false).key();
    keyRepository.revoke(keyRepository.findActiveByHash(ApiKeys.hash(revoked)).orElseThrow().id());
    // Revoked behind the API's back, as another replica would: reload now, not on the timer.
    keyCache.refresh();
    var bodies = new java.util.HashSet<String>();
    for (String header :
        List.of(
            "",
            "Bearer",
            "Bearer nonsense",
            "Basic Zm9vOmJhcg==",
            "Bearer " + ApiKeys.newKey(),
            "Bearer " + revoked)) {
      var spec = http.get().uri("/api/v1/deployments");
      if (!header.isEmpty()) {
        spec.header("Authorization", header);
      }
      bodies.add(
          spec.exchange()
              .expectStatus()
              .isUnauthorized()
              .expectBody(String.class)
              .returnResult()
              .getResponseBody());
    }
    assertThat(bodies).hasSize(1);
    assertThat(bodies.iterator().next()).contains("Invalid API key");

    http.post()
        .uri("/openai/dep_x/v1/chat/completions")
        .exchange()
        .expectStatus()
        .isUnauthorized()
        .expectBody()
        .jsonPath("$.error.message")
        .isEqualTo("Invalid API key")
        .jsonPath("$.error.code")
        .isEqualTo(401);
  }

  @Test
  void healthIsOpenButTheApiIsNot() {
    http.get().uri("/api/v1/api-keys").exchange().expectStatus().isUnauthorized();
  }

  @Test
  void editChangesOnlyTheEditableFields() {
    String id = createdId(acme);
    http.patch()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("max_workers", 3, "name", "y"))
        .exchange()
        .expectStatus()
        .isEqualTo(422)
        .expectBody()
        .jsonPath("$.detail")
        .value(d -> assertThat((String) d).contains("create a new deployment"));
    http.patch()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("idle_timeout_seconds", 0))
        .exchange()
        .expectStatus()
        .isBadRequest();
    assertThat(deployments.findById(id).orElseThrow().spec().name()).isEqualTo("chat");

    http.patch()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("name", "renamed", "wait_time_seconds", 30))
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.name")
        .isEqualTo("renamed")
        .jsonPath("$.wait_time_seconds")
        .isEqualTo(30);
  }

  @Test
  void downloadProgressShowsWhileTheModelDownloads() {
    String id = createdId(acme);
    http.get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectBody()
        .jsonPath("$.download")
        .doesNotExist();

    deployments.updateStatus(id, DeploymentStatus.DOWNLOADING_MODEL, null);
    deployments.updateDownloadProgress(id, 4_000_000_000L, 15_000_000_000L);
    http.get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectBody()
        .jsonPath("$.status")
        .isEqualTo("downloading_model")
        .jsonPath("$.download.bytes_done")
        .isEqualTo(4_000_000_000L)
        .jsonPath("$.download.bytes_total")
        .isEqualTo(15_000_000_000L);

    deployments.updateStatus(id, DeploymentStatus.MODEL_DOWNLOADED, null);
    http.get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectBody()
        .jsonPath("$.download")
        .doesNotExist();
  }

  @Test
  void accruedCostCountsEveryWorkerSinceCreationAndNeverGoesDown() {
    String id = createdId(acme);
    // The deployment is three days old: a worker that ended two days ago still cost money.
    var now = java.time.Instant.now();
    jdbc.sql("update deployments set created_at = :at where id = :id")
        .param("at", java.time.OffsetDateTime.ofInstant(now.minusSeconds(3 * 86400), UTC))
        .param("id", id)
        .update();
    insertGpuWorker(id, 1, now.minusSeconds(3 * 86400), now.minusSeconds(2 * 86400));
    insertGpuWorker(id, 2, now.minusSeconds(3600), null);

    var cost = accruedCost(id);
    // One H100 for 24 hours (71.76) plus one for the last hour (2.99), plus storage.
    assertThat(cost).isGreaterThan(new java.math.BigDecimal("74.75"));
    assertThat(accruedCost(id)).isGreaterThanOrEqualTo(cost);
    assertThat(
            http.get()
                .uri("/api/v1/deployments/" + id + "/workers")
                .header("Authorization", "Bearer " + acme)
                .exchange()
                .expectBody(List.class)
                .returnResult()
                .getResponseBody())
        .hasSize(1);
  }

  private static final java.time.ZoneOffset UTC = java.time.ZoneOffset.UTC;

  private void insertGpuWorker(
      String id, int ordinal, java.time.Instant created, java.time.Instant stopped) {
    jdbc.sql(
            "insert into workers (id, deployment_id, ordinal, status, gpu_type, gpu_count,"
                + " created_at, stopped_at) values (:id, :dep, :ordinal, :status, 'H100', 1,"
                + " :created, :stopped)")
        .param("id", id + "-w" + ordinal)
        .param("dep", id)
        .param("ordinal", ordinal)
        .param("status", stopped == null ? "healthy" : "stopped")
        .param("created", java.time.OffsetDateTime.ofInstant(created, UTC))
        .param("stopped", stopped == null ? null : java.time.OffsetDateTime.ofInstant(stopped, UTC))
        .update(); // Billing reads the intervals the activities write along with the rows.
    jdbc.sql(
            "insert into worker_intervals (worker_id, deployment_id, gpu_type, gpu_count,"
                + " started_at, ended_at) values (:id, :dep, 'H100', 1, :created, :stopped)")
        .param("id", id + "-w" + ordinal)
        .param("dep", id)
        .param("created", java.time.OffsetDateTime.ofInstant(created, UTC))
        .param("stopped", stopped == null ? null : java.time.OffsetDateTime.ofInstant(stopped, UTC))
        .update();
  }

  private java.math.BigDecimal accruedCost(String id) {
    var body =
        http.get()
            .uri("/api/v1/deployments/" + id)
            .header("Authorization", "Bearer " + acme)
            .exchange()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    return new java.math.BigDecimal(body.get("accrued_cost_usd").toString());
  }

  @Test
  void anHfEndpointTheOperatorDidNotAllowIs400AndCreatesNothing() {
    var body = new java.util.HashMap<>(validSim());
    body.put("env", Map.of("HF_ENDPOINT", "http://169.254.169.254/latest"));
    var raw =
        create(acme, body)
            .expectStatus()
            .isBadRequest()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(raw).contains("env.HF_ENDPOINT").doesNotContain("169.254");
    assertThat(deployments.list("acme")).isEmpty();
    assertThat(orchestrator.started).isEmpty();

    body.put("env", Map.of("HF_ENDPOINT", "https://mirror.example/hf/"));
    create(acme, body).expectStatus().isCreated();
    body.put("env", Map.of("HF_ENDPOINT", "https://huggingface.co"));
    create(acme, body).expectStatus().isCreated();

    // An Ollama model naming its own registry host is held to the same list.
    var ollama =
        Map.<String, Object>of(
            "name", "o", "framework", "ollama", "gpu", Map.of("type", "L4"), "model", "");
    var internal = new java.util.HashMap<>(ollama);
    internal.put("model", "registry.internal.corp/ns/model:7b");
    create(acme, internal)
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors[?(@.field == 'model')]")
        .exists();
    var library = new java.util.HashMap<>(ollama);
    library.put("model", "qwen2.5:7b");
    create(acme, library).expectStatus().isCreated();
  }

  @Test
  void aTenantCannotHaveMoreDeploymentsThanItsShare() {
    var ids = new java.util.ArrayList<String>();
    for (int i = 0; i < 4; i++) {
      ids.add(createdId(acme));
    }
    create(acme, validSim())
        .expectStatus()
        .isEqualTo(429)
        .expectHeader()
        .contentType(MediaType.APPLICATION_PROBLEM_JSON)
        .expectBody()
        .jsonPath("$.detail")
        .value(d -> assertThat((String) d).contains("already has 4 deployments"));
    assertThat(deployments.list("acme")).hasSize(4);
    // Another tenant is not held back, and a deleted deployment frees its place.
    createdId(globex);
    deployments.updateStatus(ids.getFirst(), DeploymentStatus.DELETED, null);
    createdId(acme);
  }

  @Test
  void editOfADeploymentThatIsNotRunningIsAConflict() {
    String id = createdId(acme);
    deployments.updateStatus(id, DeploymentStatus.FAILED, "model download failed");
    http.patch()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("name", "x"))
        .exchange()
        .expectStatus()
        .isEqualTo(409);
  }

  @Test
  void deleteIsAcceptedAndIdempotent() {
    String id = createdId(acme);
    http.delete()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isAccepted();
    http.delete()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isAccepted()
        .expectBody()
        .jsonPath("$.status")
        .isEqualTo("deleted");
    assertThat(orchestrator.deleted).containsExactly(id);
  }

  @Test
  void apiKeysAreAdminIssuedShownOnceAndRevocable() {
    http.post()
        .uri("/api/v1/api-keys")
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("tenant", "acme", "name", "x"))
        .exchange()
        .expectStatus()
        .isForbidden();
    http.post()
        .uri("/api/v1/api-keys")
        .header("Authorization", "Bearer " + admin)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("tenant", "Not Valid", "name", ""))
        .exchange()
        .expectStatus()
        .isBadRequest()
        .expectBody()
        .jsonPath("$.errors.length()")
        .isEqualTo(2);

    var created =
        http.post()
            .uri("/api/v1/api-keys")
            .header("Authorization", "Bearer " + admin)
            .contentType(MediaType.APPLICATION_JSON)
            .bodyValue(Map.of("tenant", "initech", "name", "ci"))
            .exchange()
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    String key = (String) created.get("key");
    assertThat(key).startsWith((String) created.get("prefix"));
    assertThat(created.get("tenant")).isEqualTo("initech");

    var listed =
        http.get()
            .uri("/api/v1/api-keys")
            .header("Authorization", "Bearer " + admin)
            .exchange()
            .expectStatus()
            .isOk()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(listed).contains((String) created.get("id")).doesNotContain(key);
    http.get()
        .uri("/api/v1/api-keys")
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$[*].tenant")
        .value(t -> assertThat((List<Object>) t).containsOnly("acme"));

    http.delete()
        .uri("/api/v1/api-keys/" + created.get("id"))
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectStatus()
        .isNotFound();
    http.get()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + key)
        .exchange()
        .expectStatus()
        .isOk();
    http.delete()
        .uri("/api/v1/api-keys/" + created.get("id"))
        .header("Authorization", "Bearer " + admin)
        .exchange()
        .expectStatus()
        .isNoContent();
    http.get()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + key)
        .exchange()
        .expectStatus()
        .isUnauthorized();
  }
}
