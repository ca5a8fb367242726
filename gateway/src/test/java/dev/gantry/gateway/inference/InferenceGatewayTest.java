package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.gateway.GatewayTestBeans;
import dev.gantry.gateway.TestData;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.db.WorkerRepository.WorkerTransition;
import dev.gantry.infra.runtime.RunningWorker;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The inference path end to end inside one process: real HTTP in, the routing table and admission
 * queue, and real {@code sim} engine processes behind it, started on demand by {@link
 * SimAutoscaler} as the workflows would.
 */
@SpringBootTest(
    classes = InferenceGatewayTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class InferenceGatewayTest {
  static final String MODEL = "tiny";

  @GatewayTestBeans
  @Import(SimAutoscaler.class)
  static class App {}

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "inference");
    registry.add("gantry.gateway.max-queue", () -> "16");
    registry.add("gantry.gateway.max-body-bytes", () -> "65536");
    registry.add("gantry.gateway.route-refresh", () -> "100ms");
    registry.add("gantry.gateway.demand-report-interval", () -> "50ms");
    registry.add("gantry.gateway.first-byte-timeout", () -> "2s");
    // One test asks for an answer larger than the socket buffers: 40000 tokens.
    registry.add("gantry.limits.default-max-tokens-limit", () -> "65536");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  @Autowired DeploymentRepository deployments;
  @Autowired WorkerRepository workers;
  @Autowired SimAutoscaler autoscaler;
  @Autowired RoutingTable routes;
  @Autowired InferenceProxy proxy;
  @Autowired UsageSink usage;
  @Autowired JdbcClient jdbc;

  final HttpClient http = HttpClient.newHttpClient();
  final AtomicInteger ids = new AtomicInteger();
  String acme;
  String globex;

  @BeforeEach
  void setUp() {
    autoscaler.reset();
    acme = apiKeys.issue("acme", "acme", false).key();
    globex = apiKeys.issue("globex", "globex", false).key();
    keyCache.refresh();
  }

  @AfterEach
  void tearDown() {
    awaitQuiet();
    autoscaler.reset();
  }

  /** Every relay ended (usage recorded) and every worker connection given back. */
  void awaitQuiet() {
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              assertThat(proxy.inFlight()).as("requests being answered").isZero();
              assertThat(proxy.connections().leased()).as("worker connections out").isZero();
            });
  }

  /** A running sim deployment of tenant acme. */
  String deployment(int maxWorkers, int concurrency, int waitSeconds, String... simFlags) {
    // Later flags of the same name replace the defaults: the simulator refuses a repeated flag.
    var flags = new LinkedHashMap<String, String>();
    for (String flag : List.of("--ttft-ms=5", "--inter-token-ms=5", "--max-concurrency=64")) {
      flags.put(flag.substring(0, flag.indexOf('=')), flag);
    }
    for (String flag : simFlags) {
      flags.put(flag.substring(0, flag.indexOf('=')), flag);
    }
    var args = List.copyOf(flags.values());
    var spec =
        new DeploymentSpec(
            "chat",
            MODEL,
            Framework.SIM,
            null,
            0,
            maxWorkers,
            concurrency,
            300,
            waitSeconds,
            1,
            List.of(),
            args);
    String id = "dep_inf" + System.nanoTime() % 100_000_000 + ids.incrementAndGet();
    deployments.insert(id, "acme", spec, null);
    deployments.updateStatus(id, DeploymentStatus.RUNNING, null);
    routes.refresh();
    return id;
  }

  HttpResponse<String> post(String key, String deploymentId, String route, String body) {
    try {
      return http.send(
          request(key, deploymentId, route, body), HttpResponse.BodyHandlers.ofString());
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  CompletableFuture<HttpResponse<String>> postAsync(String deploymentId, String body) {
    return http.sendAsync(
        request(acme, deploymentId, "chat/completions", body),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpRequest request(String key, String deploymentId, String route, String body) {
    return HttpRequest.newBuilder(
            URI.create("http://localhost:" + port + "/openai/" + deploymentId + "/v1/" + route))
        .header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build();
  }

  static String chat(int maxTokens, boolean stream) {
    return """
        {"model":"%s","messages":[{"role":"user","content":"hello there"}],"max_tokens":%d,"stream":%s}
        """
        .formatted(MODEL, maxTokens, stream);
  }

  long usageRows(String deploymentId, int status) {
    return jdbc.sql(
            "select count(*) from usage_records where deployment_id = :dep and status = :status")
        .param("dep", deploymentId)
        .param("status", status)
        .query(Long.class)
        .single();
  }

  @Test
  void requestsAreHeldToTheDeploymentsTokenAndChoiceLimits() {
    var spec =
        new DeploymentSpec(
            "chat",
            MODEL,
            Framework.SIM,
            null,
            0,
            1,
            4,
            300,
            60,
            1,
            List.of(),
            List.of("--ttft-ms=5", "--inter-token-ms=1"),
            7,
            2);
    String dep = "dep_lim" + System.nanoTime() % 100_000_000 + ids.incrementAndGet();
    deployments.insert(dep, "acme", spec, null);
    deployments.updateStatus(dep, DeploymentStatus.RUNNING, null);
    autoscaler.scaling.add(dep);
    routes.refresh();
    String messages = "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]";

    var tooLong = post(acme, dep, "chat/completions", chat(8, false));
    var tooLongNewName =
        post(
            acme,
            dep,
            "chat/completions",
            "{\"model\":\"" + MODEL + "\"," + messages + ",\"max_completion_tokens\":100}");
    var tooMany =
        post(
            acme,
            dep,
            "chat/completions",
            "{\"model\":\"" + MODEL + "\"," + messages + ",\"n\":3}");
    var tooManyBestOf =
        post(
            acme,
            dep,
            "completions",
            "{\"model\":\"" + MODEL + "\",\"prompt\":\"hi\",\"best_of\":5}");

    assertThat(tooLong.statusCode()).isEqualTo(400);
    assertThat(tooLong.body()).contains("max_tokens must be at most 7", "invalid_request_error");
    assertThat(tooLongNewName.statusCode()).isEqualTo(400);
    assertThat(tooMany.statusCode()).isEqualTo(400);
    assertThat(tooMany.body()).contains("n must be at most 2");
    assertThat(tooManyBestOf.statusCode()).isEqualTo(400);

    var within = post(acme, dep, "chat/completions", chat(7, false));
    assertThat(within.statusCode()).isEqualTo(200);
    assertThat(within.body()).contains("\"completion_tokens\":7");
    // No max_tokens: the simulator stops at its own default (64), its end of sequence; the limit
    // is sent in its place only to engines that would generate to the context length
    // (RequestLimitsTest).
    var unbounded =
        post(acme, dep, "chat/completions", "{\"model\":\"" + MODEL + "\"," + messages + "}");
    assertThat(unbounded.statusCode()).isEqualTo(200);
    assertThat(unbounded.body()).contains("\"completion_tokens\":64");
    var unboundedCompletion =
        post(acme, dep, "completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"hi\"}");
    assertThat(unboundedCompletion.statusCode()).isEqualTo(200);
    assertThat(unboundedCompletion.body()).contains("\"completion_tokens\":64");

    // Async jobs take the same limits.
    var asyncTooLong =
        proxy.callBuffered(
            "acme",
            dep,
            "v1/chat/completions",
            chat(8, false).getBytes(StandardCharsets.UTF_8),
            "req_limits1",
            () -> {},
            () -> {},
            1 << 20,
            Duration.ofSeconds(30));
    assertThatThrownBy(() -> asyncTooLong.block(Duration.ofSeconds(30)))
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.status().value()).isEqualTo(400));
    var asyncUnbounded =
        proxy
            .callBuffered(
                "acme",
                dep,
                "v1/chat/completions",
                ("{\"model\":\"" + MODEL + "\"," + messages + "}").getBytes(StandardCharsets.UTF_8),
                "req_limits2",
                () -> {},
                () -> {},
                1 << 20,
                Duration.ofSeconds(30))
            .block(Duration.ofSeconds(30));
    assertThat(asyncUnbounded.status()).isEqualTo(200);
    assertThat(new String(asyncUnbounded.body(), StandardCharsets.UTF_8))
        .contains("\"completion_tokens\":64");
  }

  @Test
  void aColdDeploymentWaitsForItsFirstWorkerAndAnswers() {
    String dep = deployment(1, 4, 60);
    autoscaler.scaling.add(dep);

    var response = post(acme, dep, "chat/completions", chat(5, false));

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).contains("\"chat.completion\"", "\"completion_tokens\":5");
    assertThat(response.headers().firstValue("X-Request-Id")).get().asString().startsWith("req_");
    assertThat(autoscaler.demand).isNotEmpty().allMatch(d -> d.total() >= 1);
    // Coalesced: one waiting request through a whole cold start is a handful of reports.
    assertThat(autoscaler.demand.size()).isLessThan(20);
    await().atMost(Duration.ofSeconds(5)).until(() -> usageRows(dep, 200) == 1);
    var usage =
        jdbc.sql(
                "select worker_id, prompt_tokens, completion_tokens from usage_records"
                    + " where deployment_id = :dep")
            .param("dep", dep)
            .query()
            .singleRow();
    assertThat(usage.get("worker_id")).isEqualTo(dep + "-w1");
    assertThat(((Number) usage.get("completion_tokens")).intValue()).isEqualTo(5);
    assertThat(((Number) usage.get("prompt_tokens")).intValue()).isPositive();
    await().atMost(Duration.ofSeconds(5)).until(() -> autoscaler.activity.contains(dep + "-w1"));
  }

  @Test
  void aFullQueueAnswers429AndWaitersTimeOut504WhileAWorkerIsStillStarting() throws Exception {
    String dep = deployment(1, 4, 2);
    workers.record(
        new WorkerTransition(dep, dep + "-w1", 1, WorkerStatus.PROVISIONING, null, 0, null, null));
    routes.refresh();
    var waiting = new ArrayList<CompletableFuture<HttpResponse<String>>>();
    for (int i = 0; i < 16; i++) {
      waiting.add(postAsync(dep, chat(1, false)));
    }
    await().until(() -> routes.find(dep).demand().queued() == 16);

    var rejected = post(acme, dep, "chat/completions", chat(1, false));

    assertThat(rejected.statusCode()).isEqualTo(429);
    assertThat(rejected.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(rejected.body()).contains("Server busy, please retry");
    for (var w : waiting) {
      var r = w.get();
      assertThat(r.statusCode()).isEqualTo(504);
      assertThat(r.headers().firstValue("Retry-After")).hasValue("5");
      assertThat(r.body()).contains("A worker is still starting");
    }
  }

  @Test
  void waitingOutBehindBusyWorkersAnswers408() throws Exception {
    String dep = deployment(1, 1, 1, "--inter-token-ms=20");
    autoscaler.startWorker(dep);
    routes.refresh();
    var busy = postAsync(dep, chat(150, false));
    await().until(() -> routes.find(dep).demand().inFlight() == 1);

    var workersApi =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://localhost:" + port + "/api/v1/deployments/" + dep + "/workers"))
                .header("Authorization", "Bearer " + acme)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(workersApi.body()).contains("\"in_flight\":1");

    var timedOut = post(acme, dep, "chat/completions", chat(1, false));

    assertThat(timedOut.statusCode()).isEqualTo(408);
    assertThat(timedOut.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(busy.join().statusCode()).isEqualTo(200);
  }

  @Test
  void theDeploymentObjectShowsThisGatewaysRequestsInFlightAndQueued() throws Exception {
    String dep = deployment(1, 1, 60, "--inter-token-ms=20");
    autoscaler.startWorker(dep);
    routes.refresh();
    var busy = postAsync(dep, chat(150, false));
    await().until(() -> routes.find(dep).demand().inFlight() == 1);
    var waiting = postAsync(dep, chat(1, false));
    await().until(() -> routes.find(dep).demand().queued() == 1);

    var deployment =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port + "/api/v1/deployments/" + dep))
                .header("Authorization", "Bearer " + acme)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(deployment.body()).contains("\"queue\":{\"in_flight\":1,\"queued\":1}");

    assertThat(busy.join().statusCode()).isEqualTo(200);
    assertThat(waiting.join().statusCode()).isEqualTo(200);
  }

  @Test
  void aScaleUpRefusedForLackOfGpusAnswers503WithoutWaitingOut() {
    String dep = deployment(1, 4, 60);
    autoscaler.refusing.add(dep);
    long start = System.nanoTime();

    var response = post(acme, dep, "chat/completions", chat(1, false));

    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(response.headers().firstValue("Retry-After")).hasValue("10");
    assertThat(response.body()).contains("No GPUs available for scale-up");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void anEngineKilledMidRequestAnswers502() {
    String dep = deployment(1, 4, 60, "--inter-token-ms=10");
    RunningWorker worker = autoscaler.startWorker(dep);
    routes.refresh();
    var inFlight = postAsync(dep, chat(1000, false));
    await().until(() -> autoscaler.metric(worker, "vllm:num_requests_running") == 1);

    autoscaler.kill(worker);

    var response = inFlight.join();
    assertThat(response.statusCode()).isEqualTo(502);
    assertThat(response.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(response.body()).contains("Worker returned an error, please retry");
  }

  @Test
  void aWorkerThatRefusesConnectionsIsRetriedOnceOnAnother() throws Exception {
    String dep = deployment(2, 8, 60);
    int closedPort;
    try (var socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    // An older worker whose engine is gone but whose row still says healthy.
    workers.record(
        new WorkerTransition(
            dep,
            dep + "-w0",
            0,
            WorkerStatus.HEALTHY,
            null,
            0,
            "http://127.0.0.1:" + closedPort,
            null));
    autoscaler.startWorker(dep);
    routes.refresh();

    var answers = new ArrayList<CompletableFuture<HttpResponse<String>>>();
    for (int i = 0; i < 6; i++) {
      answers.add(postAsync(dep, chat(3, false)));
    }

    for (var a : answers) {
      assertThat(a.get().statusCode()).isEqualTo(200);
    }
    assertThat(
            jdbc.sql("select count(*) from usage_records where worker_id = :w")
                .param("w", dep + "-w0")
                .query(Long.class)
                .single())
        .isZero();
  }

  @Test
  void aBurstNeverPutsMoreThanConcurrencyOnAWorkerAndEveryRequestCompletes() {
    String dep = deployment(2, 3, 60, "--inter-token-ms=10");
    var first = autoscaler.startWorker(dep);
    var second = autoscaler.startWorker(dep);
    routes.refresh();

    var burst = new ArrayList<CompletableFuture<HttpResponse<String>>>();
    for (int i = 0; i < 20; i++) {
      burst.add(postAsync(dep, chat(20, false)));
    }

    assertThat(burst).allSatisfy(r -> assertThat(r.join().statusCode()).isEqualTo(200));
    for (var worker : List.of(first, second)) {
      assertThat(autoscaler.metric(worker, "gantry_sim:max_running"))
          .as("the engine's own high-water mark of requests running at once")
          .isBetween(1.0, 3.0);
    }
    assertThat(
            autoscaler.metric(first, "vllm:request_success_total")
                + autoscaler.metric(second, "vllm:request_success_total"))
        .isEqualTo(20.0);
    assertThat(routes.find(dep).demand())
        .usingRecursiveComparison()
        .ignoringFields("oldestWaitMillis")
        .isEqualTo(new DeploymentRoute.Demand(0, 0, 0));
  }

  @Test
  void aStreamIsRelayedEventByEventAsTheEngineWritesIt() throws Exception {
    String dep = deployment(1, 4, 60, "--inter-token-ms=100");
    autoscaler.startWorker(dep);
    routes.refresh();

    var arrivals = new ArrayList<Long>();
    var events = new ArrayList<String>();
    long start = System.nanoTime();
    var response =
        http.send(
            request(acme, dep, "chat/completions", chat(8, true)),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type"))
        .get()
        .asString()
        .startsWith("text/event-stream");
    response
        .body()
        .filter(line -> line.startsWith("data: "))
        .forEach(
            line -> {
              arrivals.add(System.nanoTime() - start);
              events.add(line);
            });

    assertThat(events.getLast()).isEqualTo("data: [DONE]");
    assertThat(events.stream().filter(e -> e.contains("\"content\":\"")).count())
        .isGreaterThanOrEqualTo(8);
    // Eight tokens 100 ms apart: the first ones reach the client long before the last is written.
    long spreadMillis = (arrivals.getLast() - arrivals.get(1)) / 1_000_000;
    assertThat(spreadMillis).isGreaterThan(500);
  }

  @Test
  void aClientThatDisconnectsStopsTheEngineAndFreesItsSlot() throws Exception {
    String dep = deployment(1, 1, 60, "--inter-token-ms=20");
    var worker = autoscaler.startWorker(dep);
    routes.refresh();

    try (var socket = new Socket("localhost", port)) {
      String body = chat(2000, true).strip();
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST /openai/"
                  + dep
                  + "/v1/chat/completions HTTP/1.1\r\n"
                  + "Host: localhost\r\n"
                  + "Authorization: Bearer "
                  + acme
                  + "\r\n"
                  + "Content-Type: application/json\r\n"
                  + "Content-Length: "
                  + body.getBytes(StandardCharsets.UTF_8).length
                  + "\r\n"
                  + "\r\n"
                  + body)
              .getBytes(StandardCharsets.UTF_8));
      out.flush();
      var in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      int dataLines = 0;
      String line;
      while (dataLines < 3 && (line = in.readLine()) != null) {
        if (line.startsWith("data: ")) {
          dataLines++;
        }
      }
      assertThat(dataLines).isEqualTo(3);
      assertThat(autoscaler.metric(worker, "vllm:num_requests_running")).isEqualTo(1.0);
    }

    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> autoscaler.metric(worker, "gantry_sim:requests_aborted_total") == 1.0);
    assertThat(autoscaler.metric(worker, "vllm:num_requests_running")).isZero();
    await().atMost(Duration.ofSeconds(5)).until(() -> routes.find(dep).demand().inFlight() == 0);
    // Concurrency 1: the next request is served at once, not queued behind a leaked slot.
    var next = post(acme, dep, "chat/completions", chat(2, false));
    assertThat(next.statusCode()).isEqualTo(200);
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(
                        jdbc.sql("select status from usage_records where deployment_id = :dep")
                            .param("dep", dep)
                            .query(Integer.class)
                            .list())
                    .containsExactlyInAnyOrder(UsageSink.CLIENT_CLOSED, 200));
  }

  @Test
  void requestsThatCannotBeServedAreAnsweredWithoutReachingAWorker() {
    String dep = deployment(1, 4, 60);
    autoscaler.scaling.add(dep);

    var wrongModel = post(acme, dep, "chat/completions", chat(1, false).replace(MODEL, "gpt-4o"));
    assertThat(wrongModel.statusCode()).isEqualTo(404);
    assertThat(wrongModel.body()).contains("'gpt-4o' is not served by this deployment");

    var noModel = post(acme, dep, "chat/completions", "{\"messages\":[]}");
    assertThat(noModel.statusCode()).isEqualTo(400);
    var notJson = post(acme, dep, "chat/completions", "{\"model\":");
    assertThat(notJson.statusCode()).isEqualTo(400);

    var tooLarge =
        post(
            acme,
            dep,
            "chat/completions",
            chat(1, false).replace("hello there", "x".repeat(70_000)));
    assertThat(tooLarge.statusCode()).isEqualTo(413);
    assertThat(tooLarge.body()).contains("Request too large");

    var otherTenant = post(globex, dep, "chat/completions", chat(1, false));
    assertThat(otherTenant.statusCode()).isEqualTo(404);
    assertThat(otherTenant.body()).contains("Deployment not found or not running");
    var unknown = post(acme, "dep_nope", "chat/completions", chat(1, false));
    assertThat(unknown.body()).isEqualTo(otherTenant.body());

    var badKey = post("gk_not_a_key", dep, "chat/completions", chat(1, false));
    assertThat(badKey.statusCode()).isEqualTo(401);

    assertThat(autoscaler.demand).as("none of them asked for a worker").isEmpty();
    assertThat(autoscaler.started).isEmpty();
  }

  @Test
  void modelsAreListedWithoutWakingAWorker() throws Exception {
    String dep = deployment(1, 4, 60);
    var response =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port + "/openai/" + dep + "/v1/models"))
                .header("Authorization", "Bearer " + acme)
                .build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).contains("\"id\":\"tiny\"", "\"object\":\"list\"");
    assertThat(autoscaler.demand).isEmpty();
  }

  @Test
  void anAnswerLargerThanTheSocketBuffersIsRelayedWhole() throws Exception {
    String dep = deployment(1, 4, 60, "--inter-token-ms=0");
    autoscaler.startWorker(dep);
    routes.refresh();

    var response = postAsync(dep, chat(40_000, false)).get(60, TimeUnit.SECONDS);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body().length()).isGreaterThan(200_000);
    assertThat(response.body().strip()).endsWith("}");
    assertThat(response.body()).contains("\"completion_tokens\":40000");
  }

  @Test
  void pipelinedRequestsOfBothPlanesAreAnsweredInOrderOnOneConnection() throws Exception {
    String dep = deployment(1, 4, 60);
    autoscaler.startWorker(dep);
    routes.refresh();
    String chat = chat(3, false).strip();
    String inference =
        "POST /openai/"
            + dep
            + "/v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
            + acme
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + chat.getBytes(StandardCharsets.UTF_8).length
            + "\r\n\r\n"
            + chat;
    String management =
        "GET /api/v1/deployments/"
            + dep
            + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
            + acme
            + "\r\n\r\n";
    String models =
        "GET /openai/"
            + dep
            + "/v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
            + acme
            + "\r\n\r\n";

    try (var socket = new Socket("localhost", port)) {
      socket.setSoTimeout(10_000);
      var in = socket.getInputStream();
      var out = socket.getOutputStream();
      // All at once, then the same again one by one on the same (kept-alive) connection.
      out.write((inference + management + models + inference).getBytes(StandardCharsets.UTF_8));
      out.flush();
      var pipelined = new ArrayList<String>();
      for (int i = 0; i < 4; i++) {
        pipelined.add(RawHttp.read(in));
      }
      var oneByOne = new ArrayList<String>();
      for (String request : List.of(management, inference, models)) {
        out.write(request.getBytes(StandardCharsets.UTF_8));
        out.flush();
        oneByOne.add(RawHttp.read(in));
      }

      assertThat(pipelined)
          .satisfiesExactly(
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("chat.completion"),
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("\"id\":\"" + dep + "\""),
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("\"object\":\"list\""),
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("chat.completion"));
      assertThat(oneByOne)
          .satisfiesExactly(
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("\"id\":\"" + dep + "\""),
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("chat.completion"),
              r -> assertThat(r).startsWith("HTTP/1.1 200").contains("\"object\":\"list\""));
    }
  }

  @Test
  void aClientStillSendingATooLargeBodyReads413NotAReset() throws Exception {
    String dep = deployment(1, 4, 60);
    byte[] piece = "x".repeat(16 * 1024).getBytes(StandardCharsets.US_ASCII);
    int pieces = 512; // 8 MiB, far past the 64 KiB limit
    String path = "/openai/" + dep + "/v1/chat/completions";
    String auth = "Authorization: Bearer " + acme + "\r\nContent-Type: application/json\r\n";
    // Refused on its declared length, and refused on the way (chunked, no length declared).
    String declared =
        "POST "
            + path
            + " HTTP/1.1\r\nHost: x\r\n"
            + auth
            + "Content-Length: "
            + (long) piece.length * pieces
            + "\r\n\r\n";
    String chunked =
        "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n";
    for (String head : List.of(declared, chunked)) {
      boolean isChunked = head == chunked;
      try (var socket = new Socket("localhost", port)) {
        socket.setSoTimeout(10_000);
        var out = socket.getOutputStream();
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        var refused = new AtomicReference<IOException>();
        var sender =
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        for (int i = 0; i < pieces; i++) {
                          if (isChunked) {
                            out.write((Integer.toHexString(piece.length) + "\r\n").getBytes());
                          }
                          out.write(piece);
                          if (isChunked) {
                            out.write("\r\n".getBytes());
                          }
                        }
                      } catch (IOException e) {
                        refused.set(e);
                      }
                    });
        var in = socket.getInputStream();
        String response = RawHttp.read(in);
        assertThat(response).as(isChunked ? "chunked" : "declared").startsWith("HTTP/1.1 413");
        assertThat(response)
            .contains("Request too large")
            .containsIgnoringCase("connection: close");
        // The gateway ends its side in order, and reads on (and drops) what the client still
        // sends: no reset, which can destroy an answer the client has not read yet.
        assertThat(in.read()).as("the end of the answers").isEqualTo(-1);
        assertThat(sender.join(Duration.ofSeconds(15))).as("the whole body sent").isTrue();
        assertThat(refused.get()).as("a send refused").isNull();
      }
    }
    assertThat(autoscaler.demand).isEmpty();
  }

  @Test
  void aClientThatGoesQuietAfterA413IsDisconnected() throws Exception {
    String dep = deployment(1, 4, 60);
    String head =
        "POST /openai/"
            + dep
            + "/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + acme
            + "\r\nContent-Length: 100000000\r\n\r\n";
    try (var socket = new Socket("localhost", port)) {
      socket.setSoTimeout(10_000);
      var out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[1000]);
      var in = socket.getInputStream();
      assertThat(RawHttp.read(in)).startsWith("HTTP/1.1 413");
      assertThat(in.read()).isEqualTo(-1);
      // Probes far apart, so it is quiet between them for longer than the lingering close waits:
      // the gateway closes the connection, and a probe after that is refused.
      await()
          .atMost(Duration.ofSeconds(20))
          .pollDelay(Duration.ofSeconds(3))
          .pollInterval(Duration.ofSeconds(3))
          .until(
              () -> {
                try {
                  out.write(0);
                  out.flush();
                  return false;
                } catch (IOException refused) {
                  return true;
                }
              });
    }
  }

  @Test
  void aStreamCutByADyingEngineEndsWithAnOpenAiErrorEventAndAProperEnd() throws Exception {
    String dep = deployment(1, 4, 60, "--inter-token-ms=20");
    var worker = autoscaler.startWorker(dep);
    routes.refresh();

    var response =
        http.send(
            request(acme, dep, "chat/completions", chat(2000, true)),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(response.statusCode()).isEqualTo(200);
    var events = new ArrayList<String>();
    // The body completes normally (a chunked end), so reading it to the end throws nothing.
    response
        .body()
        .filter(line -> line.startsWith("data: "))
        .forEach(
            line -> {
              events.add(line);
              if (events.size() == 3) {
                autoscaler.kill(worker);
              }
            });

    assertThat(events.size()).isGreaterThan(3);
    assertThat(events.getLast())
        .startsWith("data: {\"error\":")
        .contains("\"type\":\"server_error\"")
        .contains("The worker failed mid-stream");
    assertThat(events).doesNotContain("data: [DONE]");
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(usageRows(dep, 502)).isEqualTo(1));
  }

  @Test
  void requestsQueuedBehindAWorkerThatDiesGoToAHealthyWorkerInsteadOf502() throws Exception {
    String dep = deployment(2, 1, 60, "--inter-token-ms=20");
    var doomed = autoscaler.startWorker(dep);
    autoscaler.startWorker(dep);
    routes.refresh();
    // Both workers busy (concurrency 1): one long stream each, the second one shorter.
    var onDoomed = postAsync(dep, chat(2000, true));
    await().until(() -> autoscaler.metric(doomed, "vllm:num_requests_running") == 1);
    var onHealthy = postAsync(dep, chat(60, true));
    await().until(() -> routes.find(dep).demand().inFlight() == 2);
    var queued = new ArrayList<CompletableFuture<HttpResponse<String>>>();
    for (int i = 0; i < 3; i++) {
      queued.add(postAsync(dep, chat(3, false)));
    }
    await().until(() -> routes.find(dep).demand().queued() == 3);

    autoscaler.kill(doomed);

    assertThat(onDoomed.get().body()).contains("\"error\"");
    assertThat(onHealthy.get().statusCode()).isEqualTo(200);
    for (var q : queued) {
      assertThat(q.get().statusCode()).isEqualTo(200);
    }
    assertThat(
            jdbc.sql("select count(*) from usage_records where worker_id = :w and status = 200")
                .param("w", doomed.workerId())
                .query(Long.class)
                .single())
        .isZero();
  }

  @Test
  void aStreamToAHungWorkerGets504AfterTheFirstByteTimeoutAndTheWorkerGetsNothingNew()
      throws Exception {
    String dep = deployment(2, 8, 60);
    try (var hung = new ServerSocket(0)) {
      // Accepts connections (the kernel does) and never answers, as a SIGSTOPped engine.
      workers.record(
          new WorkerTransition(
              dep,
              dep + "-w0",
              0,
              WorkerStatus.HEALTHY,
              null,
              0,
              "http://127.0.0.1:" + hung.getLocalPort(),
              null));
      // A healthy worker too, started first: the ejection's cooldown (5 s) then covers only the
      // first request's timeout, not a JVM start on a loaded machine.
      autoscaler.startWorker(dep);
      routes.refresh();
      long start = System.nanoTime();
      var first = post(acme, dep, "chat/completions", chat(5, true));
      long tookMillis = (System.nanoTime() - start) / 1_000_000;
      assertThat(first.statusCode()).isEqualTo(504);
      assertThat(first.headers().firstValue("Retry-After")).isPresent();
      assertThat(tookMillis).isBetween(1_500L, 10_000L);

      // The hung worker is older and as free: without ejection it would get the next request.
      var next = post(acme, dep, "chat/completions", chat(3, true));
      assertThat(next.statusCode()).isEqualTo(200);
      assertThat(next.body()).contains("data: [DONE]");
    }
    assertThat(
            jdbc.sql("select count(*) from usage_records where worker_id = :w and status = 200")
                .param("w", dep + "-w0")
                .query(Long.class)
                .single())
        .isZero();
  }

  @Test
  void requestsAreCountedByOutcomeAndWorkerConnectionsAreGauged() {
    var registry = new SimpleMeterRegistry();
    usage.bindTo(registry);
    proxy.bindTo(registry);
    String dep = deployment(1, 4, 60);
    autoscaler.startWorker(dep);
    routes.refresh();
    awaitQuiet();
    double ok = ended(registry, "2xx");
    double refused = ended(registry, "4xx");

    assertThat(post(acme, dep, "chat/completions", chat(2, false)).statusCode()).isEqualTo(200);
    assertThat(post(acme, dep, "chat/completions", chat(2, true)).statusCode()).isEqualTo(200);
    assertThat(post(globex, dep, "chat/completions", chat(2, false)).statusCode()).isEqualTo(404);

    // Counted when the relay ends, just after the answer's last byte is written.
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              assertThat(ended(registry, "2xx") - ok).isEqualTo(2);
              assertThat(ended(registry, "4xx") - refused).isEqualTo(1);
              assertThat(registry.get("gantry.inference.requests.active").gauge().value()).isZero();
            });
    assertThat(registry.get("gantry.inference.worker.connections.active").gauge().value()).isZero();
    assertThat(registry.get("gantry.inference.worker.connection.pools").gauge().value())
        .as("a pool for the worker")
        .isPositive();
    assertThat(registry.get("gantry.inference.requests.queued").gauge().value()).isZero();
  }

  static double ended(SimpleMeterRegistry registry, String outcome) {
    return registry
        .get("gantry.inference.requests")
        .tag("outcome", outcome)
        .functionCounter()
        .count();
  }

  /** Reads one HTTP/1.1 response (a Content-Length or chunked body) off a raw socket. */
  static final class RawHttp {
    static String read(InputStream in) throws IOException {
      var head = new StringBuilder();
      while (!head.toString().endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("connection closed after: " + head);
        }
        head.append((char) b);
      }
      String lower = head.toString().toLowerCase(Locale.ROOT);
      var body = new ByteArrayOutputStream();
      int at = lower.indexOf("content-length:");
      if (at >= 0) {
        int length = Integer.parseInt(lower.substring(at + 15, lower.indexOf('\r', at)).trim());
        body.write(in.readNBytes(length));
      } else if (lower.contains("transfer-encoding: chunked")) {
        while (true) {
          var size = new StringBuilder();
          for (int b = in.read(); b != '\n'; b = in.read()) {
            size.append((char) b);
          }
          int n = Integer.parseInt(size.toString().trim(), 16);
          body.write(in.readNBytes(n));
          in.readNBytes(2);
          if (n == 0) {
            break;
          }
        }
      }
      return head + body.toString(StandardCharsets.UTF_8);
    }
  }
}
