package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.models.Model;
import dev.gantry.infra.auth.ApiKeys;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The inference gateway as a user meets it: the real jar with real {@code sim} engines, and the
 * official OpenAI Java SDK as the client. A scale-to-zero deployment answers a cold request,
 * streams, scales out under a burst of concurrent streams, reaps its workers back to zero when
 * idle, and answers the SDK's error types for a wrong model and a wrong key. Process facts are
 * asked of the operating system, not of Gantry.
 *
 * <p>The steps share one platform process and one deployment, so they run in order.
 */
@Timeout(240)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OpenAiSdkIT {

  /** Unique per run, so the engines of this run can be found among all processes of the host. */
  static final String MODEL = "sdk-it-" + Long.toHexString(ThreadLocalRandom.current().nextLong());

  static final String PROMPT = "Tell me about the gateway.";
  static final int BURST = 20;
  static final int BURST_TOKENS = 200;
  static final ObjectMapper JSON = new ObjectMapper();

  static PlatformProcess platform;
  static String dep;
  static OpenAIClient client;

  /** The cold request's answer: a prefix of every longer answer to the same prompt. */
  static String coldContent;

  /**
   * The streamed answer to {@link #PROMPT} at {@link #BURST_TOKENS}: what every burst stream gets.
   */
  static String streamedContent;

  /** When the last stream of the burst ended: idle timers run from there. */
  static long burstEndNanos;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform = new PlatformProcess("openai-sdk-it").start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (client != null) {
      client.close();
    }
    if (platform != null) {
      platform.close();
    }
    enginesOfThisRun().forEach(ProcessHandle::destroyForcibly);
  }

  @Test
  @Order(1)
  void createsAScaleToZeroSimDeployment() throws Exception {
    var created =
        post(
            "/api/v1/deployments",
            Map.of(
                "name", "sdk-it",
                "model", MODEL,
                "framework", "sim",
                "min_workers", 0,
                "max_workers", 3,
                "concurrency", 8,
                "idle_timeout_seconds", 5,
                "wait_time_seconds", 60,
                "storage_gb", 1,
                "framework_args", List.of("--ttft-ms=20", "--inter-token-ms=20")));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    var body = JSON.readTree(created.body());
    dep = body.get("id").asText();
    assertThat(body.get("openai_base_url").asText()).endsWith("/openai/" + dep + "/v1");

    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> deployment().get("status").asText().equals("running"));
    assertThat(workers()).as("min_workers 0: nothing runs before the first request").isEmpty();

    client = sdkClient(platform.key);
    // Answered by the gateway without waking a worker; it also warms the SDK up, so that the cold
    // request's time is the platform's and not the client's first-call class loading.
    assertThat(client.models().list().data()).extracting(Model::id).containsExactly(MODEL);
    assertThat(workers()).isEmpty();
  }

  @Test
  @Order(2)
  void aColdRequestWaitsForTheFirstWorker() {
    var sent = Instant.now();
    long start = System.nanoTime();
    ChatCompletion reply =
        client
            .chat()
            .completions()
            .create(
                ChatCompletionCreateParams.builder()
                    .model(MODEL)
                    .addUserMessage(PROMPT)
                    .maxCompletionTokens(16)
                    .build());
    long coldMs = (System.nanoTime() - start) / 1_000_000;
    var worker = workers().getFirst();
    System.out.printf(
        "OpenAiSdkIT: cold request (scale from zero) answered in %d ms (worker created after %d ms,"
            + " healthy after %d ms)%n",
        coldMs,
        Duration.between(sent, Instant.parse(worker.get("created_at").asText())).toMillis(),
        Duration.between(sent, Instant.parse(worker.get("healthy_at").asText())).toMillis());

    assertThat(reply.model()).isEqualTo(MODEL);
    assertThat(reply.choices()).hasSize(1);
    coldContent = reply.choices().getFirst().message().content().orElse("");
    assertThat(coldContent).isNotBlank();
    assertThat(reply.choices().getFirst().finishReason())
        .isEqualTo(ChatCompletion.Choice.FinishReason.LENGTH);
    CompletionUsage usage = reply.usage().orElseThrow();
    assertThat(usage.promptTokens()).isPositive();
    assertThat(usage.completionTokens()).isEqualTo(16);
    assertThat(usage.totalTokens()).isEqualTo(usage.promptTokens() + usage.completionTokens());
    platform.enginePids();
    assertThat(platform.enginesSeen()).as("the cold request started one engine").hasSize(1);
  }

  @Test
  @Order(3)
  void streamsChunksUntilTheFinishReasonAndUsage() {
    var result = stream(PROMPT, BURST_TOKENS);
    assertThat(result.contentDeltas()).isEqualTo(BURST_TOKENS);
    assertThat(result.model()).isEqualTo(MODEL);
    assertThat(result.finishReason()).isEqualTo(ChatCompletionChunk.Choice.FinishReason.LENGTH);
    assertThat(result.lastChunkHadUsage()).as("the usage chunk is the last one").isTrue();
    assertThat(result.usage().completionTokens()).isEqualTo(BURST_TOKENS);
    // The simulator is deterministic: a longer answer to the same prompt extends the shorter one.
    assertThat(result.content()).startsWith(coldContent).isNotEqualTo(coldContent);
    streamedContent = result.content();
  }

  @Test
  @Order(4)
  void aBurstOfConcurrentStreamsScalesOutAndEveryStreamCompletes() throws Exception {
    int[] maxHealthy = {0};
    var burstStart = Instant.now();
    long start = System.nanoTime();
    List<Future<StreamResult>> streams = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < BURST; i++) {
        streams.add(pool.submit(() -> stream(PROMPT, BURST_TOKENS)));
      }
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                maxHealthy[0] = Math.max(maxHealthy[0], sampleHealthy());
                return streams.stream().allMatch(Future::isDone);
              });
    }
    burstEndNanos = System.nanoTime();
    long burstMs = (burstEndNanos - start) / 1_000_000;

    List<Long> firstTokenMs = new ArrayList<>();
    for (var future : streams) {
      StreamResult result = future.get(); // rethrows a stream's failure
      assertThat(result.content()).isEqualTo(streamedContent);
      assertThat(result.contentDeltas()).isEqualTo(BURST_TOKENS);
      assertThat(result.finishReason()).isEqualTo(ChatCompletionChunk.Choice.FinishReason.LENGTH);
      assertThat(result.usage().completionTokens()).isEqualTo(BURST_TOKENS);
      firstTokenMs.add((result.firstContentNanos() - start) / 1_000_000);
    }

    // 20 streams at concurrency 8 want 3 workers. Those asked for during the burst may still be
    // starting when it ends: wait until each has come up (or not).
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              maxHealthy[0] = Math.max(maxHealthy[0], sampleHealthy());
              return workers().stream().noneMatch(w -> status(w).equals("provisioning"));
            });
    var all = workers();
    System.out.printf(
        "OpenAiSdkIT: burst of %d streams x %d tokens took %d ms; max healthy workers at once %d,"
            + " workers ever healthy %d; first content after (ms, sorted) %s%n",
        BURST,
        BURST_TOKENS,
        burstMs,
        maxHealthy[0],
        everHealthy(),
        firstTokenMs.stream().sorted().toList());
    for (var w : all) {
      System.out.printf(
          "OpenAiSdkIT:   worker %s (%s): created %+d ms, healthy %s after the burst started%n",
          w.get("id").asText(),
          status(w),
          Duration.between(burstStart, Instant.parse(w.get("created_at").asText())).toMillis(),
          w.path("healthy_at").isNull()
              ? "never"
              : String.format(
                  "%+d ms",
                  Duration.between(burstStart, Instant.parse(w.get("healthy_at").asText()))
                      .toMillis()));
    }
    assertThat(all).as("workers started for the burst").hasSize(3);
    // Every one came up. How many were healthy at once is printed, not asserted: on a busy 2-core
    // host a new engine can take longer to start than the burst plus the idle timeout lasts.
    assertThat(everHealthy()).as("workers that became healthy").isEqualTo(3);
  }

  /** Workers of the deployment that were healthy at some time, whatever they are now. */
  static long everHealthy() {
    return workers().stream().filter(w -> !w.path("healthy_at").isNull()).count();
  }

  @Test
  @Order(5)
  void idleWorkersAreReapedBackToZero() throws Exception {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              var all = workers();
              platform.enginePids();
              return !all.isEmpty()
                  && all.stream()
                      .noneMatch(
                          w -> Set.of("healthy", "provisioning", "draining").contains(status(w)));
            });
    long reapMs = (System.nanoTime() - burstEndNanos) / 1_000_000;
    System.out.printf(
        "OpenAiSdkIT: reaped back to zero workers %d ms after the burst ended%n", reapMs);

    assertThat(workers())
        .as("every worker was stopped, none failed")
        .allSatisfy(w -> assertThat(status(w)).isEqualTo("stopped"))
        .allSatisfy(w -> assertThat(w.path("stopped_at").isNull()).isFalse());
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> platform.enginePids().isEmpty());
    assertThat(deployment().path("workers").path("total").asInt()).isZero();
  }

  @Test
  @Order(6)
  void errorsAreTheSdksTypesAndWakeNoWorker() throws Exception {
    int workersBefore = workers().size();

    assertThat(client.models().list().data()).extracting(Model::id).containsExactly(MODEL);

    var wrongModel =
        catchThrowableOfType(
            NotFoundException.class,
            () ->
                client
                    .chat()
                    .completions()
                    .create(
                        ChatCompletionCreateParams.builder()
                            .model("not-" + MODEL)
                            .addUserMessage(PROMPT)
                            .build()));
    assertThat(wrongModel).as("a wrong model name").isNotNull();
    assertThat(wrongModel.statusCode()).isEqualTo(404);

    OpenAIClient wrongKey = sdkClient(ApiKeys.newKey());
    try {
      var unauthorized =
          catchThrowableOfType(
              UnauthorizedException.class,
              () ->
                  wrongKey
                      .chat()
                      .completions()
                      .create(
                          ChatCompletionCreateParams.builder()
                              .model(MODEL)
                              .addUserMessage(PROMPT)
                              .build()));
      assertThat(unauthorized).as("an unknown API key").isNotNull();
      assertThat(unauthorized.statusCode()).isEqualTo(401);
    } finally {
      wrongKey.close();
    }

    assertThat(workers()).as("refused requests start no worker").hasSize(workersBefore);
    assertThat(platform.enginePids()).isEmpty();
  }

  @Test
  @Order(7)
  void deletingAndStoppingLeavesNoEngineBehind() throws Exception {
    var delete = platform.delete("/api/v1/deployments/" + dep);
    assertThat(delete.statusCode()).isEqualTo(202);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> deployment().get("status").asText().equals("deleted"));

    // SIGTERM: the graceful stop a user's Ctrl-C or systemd gives
    assertThat(platform.stop(Duration.ofSeconds(60))).as("the platform stopped").isTrue();

    var everyEngine = platform.enginesSeen();
    assertThat(everyEngine).as("engines were seen").isNotEmpty();
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              assertThat(everyEngine).noneMatch(OpenAiSdkIT::alive);
              assertThat(enginesOfThisRun()).as("engines serving " + MODEL).isEmpty();
            });
  }

  // ---------------------------------------------------------------------------------------------

  record StreamResult(
      String model,
      String content,
      int contentDeltas,
      ChatCompletionChunk.Choice.FinishReason finishReason,
      CompletionUsage usage,
      boolean lastChunkHadUsage,
      long firstContentNanos) {}

  /** One streamed chat completion through the SDK, read to its end. */
  static StreamResult stream(String prompt, int maxTokens) {
    var params =
        ChatCompletionCreateParams.builder()
            .model(MODEL)
            .addUserMessage(prompt)
            .maxCompletionTokens(maxTokens)
            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
            .build();
    var content = new StringBuilder();
    int deltas = 0;
    String model = null;
    ChatCompletionChunk.Choice.FinishReason finish = null;
    CompletionUsage usage = null;
    ChatCompletionChunk last = null;
    long firstContent = 0;
    try (var response = client.chat().completions().createStreaming(params)) {
      for (var chunk : (Iterable<ChatCompletionChunk>) response.stream()::iterator) {
        last = chunk;
        model = chunk.model();
        for (var choice : chunk.choices()) {
          var text = choice.delta().content().orElse("");
          if (!text.isEmpty()) {
            if (deltas == 0) {
              firstContent = System.nanoTime();
            }
            content.append(text);
            deltas++;
          }
          if (choice.finishReason().isPresent()) {
            finish = choice.finishReason().get();
          }
        }
        if (chunk.usage().isPresent()) {
          usage = chunk.usage().get();
        }
      }
    }
    assertThat(usage).as("a usage chunk").isNotNull();
    return new StreamResult(
        model,
        content.toString(),
        deltas,
        finish,
        usage,
        last != null && last.usage().isPresent() && last.choices().isEmpty(),
        firstContent);
  }

  /** How many workers are healthy now; remembers the engines seen. */
  static int sampleHealthy() {
    platform.enginePids();
    return (int) workers().stream().filter(w -> status(w).equals("healthy")).count();
  }

  /**
   * The OpenAI SDK pointed at the deployment's base URL. No retries: every answer the test sees is
   * the gateway's own, not the SDK's second try.
   */
  static OpenAIClient sdkClient(String apiKey) {
    return OpenAIOkHttpClient.builder()
        .baseUrl("http://127.0.0.1:" + platform.port + "/openai/" + dep + "/v1")
        .apiKey(apiKey)
        .maxRetries(0)
        .timeout(Duration.ofSeconds(90))
        .build();
  }

  static HttpResponse<String> get(String path) throws Exception {
    return platform.get(path);
  }

  static HttpResponse<String> post(String path, Object body) throws Exception {
    return platform.post(path, body);
  }

  static JsonNode deployment() throws Exception {
    return JSON.readTree(get("/api/v1/deployments/" + dep).body());
  }

  static List<JsonNode> workers() {
    try {
      var body = JSON.readTree(get("/api/v1/deployments/" + dep + "/workers").body());
      return StreamSupport.stream(body.spliterator(), false).toList();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String status(JsonNode worker) {
    return worker.get("status").asText();
  }

  /** Every process on this host serving this run's model, whoever its parent is now. */
  static List<ProcessHandle> enginesOfThisRun() {
    return ProcessHandle.allProcesses()
        .filter(ProcessHandle::isAlive)
        .filter(p -> p.info().arguments().map(args -> List.of(args).contains(MODEL)).orElse(false))
        .toList();
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }
}
