package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.SseException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Failing engines against the real jar with real {@code sim} processes: an engine stopped with
 * SIGSTOP mid-stream, one killed with SIGKILL mid-stream, a scale-in while long streams run, and
 * the first request after a deployment reads {@code running}. Engines are found as the platform's
 * descendant processes serving this test's model, and signalled as an operator (or the kernel)
 * would.
 */
@Timeout(300)
class EngineFaultIT {
  static final String RUN = Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffff);
  static final HttpClient HTTP = HttpClient.newHttpClient();

  static PlatformProcess platform;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform =
        new PlatformProcess(
                "engine-fault-it",
                "--gantry.runtime.local.health-check-interval=1s",
                "--gantry.runtime.local.health-check-timeout=1s",
                "--gantry.runtime.local.health-check-failures=2",
                "--gantry.runtime.local.stop-grace=2s",
                // Short, so that a stream it cut would show within the test.
                "--gantry.runtime.local.drain-timeout=2s",
                "--gantry.gateway.first-byte-timeout=5s")
            .start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  @Test
  void anEngineStoppedMidStreamIsDetectedKilledAndReplacedAndTrafficMovesOn() throws Exception {
    String model = "stop-" + RUN;
    String dep = deployment(model, 2, 2, 300, "--inter-token-ms=50");
    await().atMost(Duration.ofSeconds(60)).until(() -> withStatus(dep, "healthy").size() == 2);
    var lines = new ArrayList<String>();
    var stream = streamAsync(dep, model, 2000, lines);
    await().atMost(Duration.ofSeconds(20)).until(() -> dataLines(lines) >= 3);
    long hung = engineRunning(model);

    signal("STOP", hung);
    long stoppedAt = System.nanoTime();

    // The stream ends (no 10-minute hang) with an error event the SDKs raise on.
    assertThat(stream.get(60, TimeUnit.SECONDS)).isEqualTo(200);
    long endedMillis = (System.nanoTime() - stoppedAt) / 1_000_000;
    assertThat(lastData(lines)).startsWith("data: {\"error\":").contains("server_error");
    assertThat(endedMillis).as("probes (2 × 1 s) + kill (2 s grace) + slack").isLessThan(30_000);
    // The hung engine is killed (SIGKILL reaches a stopped process), the worker recorded failed.
    await().atMost(Duration.ofSeconds(30)).until(() -> !alive(hung));
    await().atMost(Duration.ofSeconds(30)).until(() -> withStatus(dep, "failed").size() == 1);
    assertThat(withStatus(dep, "failed").getFirst().get("failure_reason").asText())
        .contains("stopped answering health checks");

    // The other worker takes the traffic at once; a replacement comes up.
    for (int i = 0; i < 4; i++) {
      var answer = chat(dep, model, 3, false);
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> withStatus(dep, "healthy").size() == 2);
    delete(dep);
  }

  @Test
  void anEngineKilledMidStreamEndsTheStreamWithAnErrorTheSdkRaises() throws Exception {
    String model = "kill-" + RUN;
    String dep = deployment(model, 1, 1, 300, "--inter-token-ms=50");
    await().atMost(Duration.ofSeconds(60)).until(() -> withStatus(dep, "healthy").size() == 1);
    var client =
        OpenAIOkHttpClient.builder()
            .baseUrl("http://127.0.0.1:" + platform.port + "/openai/" + dep + "/v1")
            .apiKey(platform.key)
            .maxRetries(0)
            .timeout(Duration.ofSeconds(60))
            .build();
    var params =
        ChatCompletionCreateParams.builder()
            .model(model)
            .addUserMessage("Tell me a long story.")
            .maxCompletionTokens(2000)
            .build();
    var chunks = new AtomicInteger();

    assertThatThrownBy(
            () -> {
              try (var response = client.chat().completions().createStreaming(params)) {
                for (var chunk : (Iterable<ChatCompletionChunk>) response.stream()::iterator) {
                  if (chunks.incrementAndGet() == 3) {
                    ProcessHandle.of(engineRunning(model)).orElseThrow().destroyForcibly();
                  }
                }
              }
            })
        .isInstanceOf(SseException.class)
        .hasMessageContaining("The worker failed mid-stream");
    assertThat(chunks.get()).isGreaterThanOrEqualTo(3);
    delete(dep);
  }

  @Test
  void loweringTheIdleTimeoutWhileLongStreamsRunLetsEveryOneFinish() throws Exception {
    String model = "scalein-" + RUN;
    // 200 tokens, 50 ms apart: 10 s, five times the drain timeout this platform runs with.
    String dep = deployment(model, 0, 1, 300, "--inter-token-ms=50");
    await().atMost(Duration.ofSeconds(30)).until(() -> status(dep).equals("running"));
    // A first request brings the worker up (retried: this test is not about the first request).
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> chat(dep, model, 1, false).statusCode() == 200);
    var streams = new ArrayList<CompletableFuture<Integer>>();
    var lines = new ArrayList<List<String>>();
    for (int i = 0; i < 4; i++) {
      var own = new ArrayList<String>();
      lines.add(own);
      streams.add(streamAsync(dep, model, 200, own));
    }
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> lines.stream().allMatch(l -> dataLines(l) >= 2));

    var patched = patch(dep, Map.of("idle_timeout_seconds", 1));
    assertThat(patched.statusCode()).as(patched.body()).isEqualTo(200);

    for (int i = 0; i < 4; i++) {
      assertThat(streams.get(i).get(60, TimeUnit.SECONDS)).isEqualTo(200);
      assertThat(lastData(lines.get(i))).as("stream %d", i).isEqualTo("data: [DONE]");
    }
    // Once the streams are done, the idle worker is reaped as usual.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> withStatus(dep, "stopped").size() == 1 && current(dep).isEmpty());
    delete(dep);
  }

  @Test
  void aDeploymentReadAsRunningAnswersItsFirstRequestNot404() throws Exception {
    for (int i = 0; i < 4; i++) {
      String model = "fresh" + i + "-" + RUN;
      String dep = deployment(model, 0, 1, 300);
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> status(dep).equals("running"));

      if (i % 2 == 0) {
        var answer = chat(dep, model, 3, false);
        assertThat(answer.statusCode()).as("try %d: %s", i, answer.body()).isEqualTo(200);
      } else {
        // The async API finds it as soon, too.
        var submitted =
            platform.post(
                "/deployment/" + dep + "/v1/chat/completions",
                Map.of(
                    "input",
                    Map.of(
                        "model",
                        model,
                        "max_tokens",
                        3,
                        "messages",
                        List.of(Map.of("role", "user", "content", "hello")))));
        assertThat(submitted.statusCode()).as("try %d: %s", i, submitted.body()).isEqualTo(202);
      }
      delete(dep);
    }
  }

  // ---------------------------------------------------------------- helpers

  static String deployment(String model, int min, int max, int idle, String... args)
      throws Exception {
    var created =
        platform.post(
            "/api/v1/deployments",
            Map.of(
                "name", model,
                "model", model,
                "framework", "sim",
                "min_workers", min,
                "max_workers", max,
                "concurrency", 8,
                "idle_timeout_seconds", idle,
                "storage_gb", 1,
                "framework_args", List.of(args)));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    return PlatformProcess.json(created).get("id").asText();
  }

  static void delete(String dep) throws Exception {
    assertThat(platform.delete("/api/v1/deployments/" + dep).statusCode()).isEqualTo(202);
  }

  static String status(String dep) throws Exception {
    return PlatformProcess.json(platform.get("/api/v1/deployments/" + dep)).get("status").asText();
  }

  static List<JsonNode> workers(String dep) throws Exception {
    var body = PlatformProcess.json(platform.get("/api/v1/deployments/" + dep + "/workers"));
    return StreamSupport.stream(body.spliterator(), false).toList();
  }

  static List<JsonNode> withStatus(String dep, String status) throws Exception {
    return workers(dep).stream().filter(w -> w.get("status").asText().equals(status)).toList();
  }

  static List<JsonNode> current(String dep) throws Exception {
    return workers(dep).stream().filter(w -> w.get("stopped_at").isNull()).toList();
  }

  static HttpResponse<String> patch(String dep, Map<String, Object> body) throws Exception {
    return PlatformProcess.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + platform.port + "/api/v1/deployments/" + dep))
            .header("Content-Type", "application/json")
            .method(
                "PATCH",
                HttpRequest.BodyPublishers.ofString(PlatformProcess.JSON.writeValueAsString(body))),
        platform.key);
  }

  static String chatBody(String model, int maxTokens, boolean stream) {
    return """
        {"model":"%s","messages":[{"role":"user","content":"hello there"}],"max_tokens":%d,"stream":%s}
        """
        .formatted(model, maxTokens, stream);
  }

  static HttpRequest.Builder inference(String dep, String body) {
    return HttpRequest.newBuilder(
            URI.create(
                "http://127.0.0.1:" + platform.port + "/openai/" + dep + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + platform.key)
        .header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(90))
        .POST(HttpRequest.BodyPublishers.ofString(body));
  }

  static HttpResponse<String> chat(String dep, String model, int maxTokens, boolean stream)
      throws Exception {
    return HTTP.send(
        inference(dep, chatBody(model, maxTokens, stream)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** A streamed chat whose lines are collected as they arrive; completes with its status. */
  static CompletableFuture<Integer> streamAsync(
      String dep, String model, int maxTokens, List<String> lines) {
    return HTTP.sendAsync(
            inference(dep, chatBody(model, maxTokens, true)).build(),
            HttpResponse.BodyHandlers.ofLines())
        .thenApply(
            response -> {
              response
                  .body()
                  .forEach(
                      line -> {
                        synchronized (lines) {
                          lines.add(line);
                        }
                      });
              return response.statusCode();
            });
  }

  static int dataLines(List<String> lines) {
    synchronized (lines) {
      return (int) lines.stream().filter(l -> l.startsWith("data: ")).count();
    }
  }

  static String lastData(List<String> lines) {
    synchronized (lines) {
      return lines.stream().filter(l -> l.startsWith("data: ")).reduce((a, b) -> b).orElse("");
    }
  }

  /** The engine of this model that runs a request now (its own metrics say so). */
  static long engineRunning(String model) throws Exception {
    for (long pid : platform.enginePids()) {
      var args = ProcessHandle.of(pid).flatMap(p -> p.info().arguments()).orElse(new String[0]);
      if (Arrays.stream(args).anyMatch(a -> a.equals(model) || a.equals("--model=" + model))
          && PlatformProcess.counter(
                  PlatformProcess.engineMetrics(pid), "vllm:num_requests_running")
              > 0) {
        return pid;
      }
    }
    throw new AssertionError("no engine of " + model + " runs a request");
  }

  static void signal(String name, long pid) throws Exception {
    var kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
    assertThat(kill.waitFor()).isZero();
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }
}
