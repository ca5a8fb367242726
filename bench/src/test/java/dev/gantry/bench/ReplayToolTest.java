package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.gantry.autoscaler.ScalingPolicy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The replay tool against a tiny in-process stand-in for Gantry's API and streaming route. */
class ReplayToolTest {

  static {
    // The JDK server leaves Nagle's algorithm on: small SSE writes would wait for delayed ACKs.
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  private static final String KEY = "gk_replay-test-key";
  private static final Pattern MAX_TOKENS = Pattern.compile("\"max_tokens\":(\\d+)");
  private static final Pattern CONTENT = Pattern.compile("\"content\":\"([^\"]*)\"");
  private static final long FIRST_CHUNK_DELAY_MS = 30;

  @TempDir Path dir;
  private HttpServer server;
  private ExecutorService executor;
  private final List<String> bodies = new CopyOnWriteArrayList<>();
  private final Map<Integer, Long> arrivals = new ConcurrentHashMap<>();
  private final List<String> authorizations = new CopyOnWriteArrayList<>();
  private final AtomicInteger answered = new AtomicInteger();
  private final AtomicReference<Instant> workerCreated = new AtomicReference<>();
  private final AtomicReference<Instant> workerStopped = new AtomicReference<>();
  private int expectedRequests;

  @BeforeEach
  void start() throws IOException {
    executor = Executors.newVirtualThreadPerTaskExecutor();
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(executor);
    server.createContext("/api/v1/deployments/dep_t", this::api);
    server.createContext("/openai/dep_t/v1/chat/completions", this::chat);
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void api(HttpExchange exchange) throws IOException {
    authorizations.add(exchange.getRequestHeaders().getFirst("Authorization"));
    String body;
    if (exchange.getRequestURI().getPath().endsWith("/workers")) {
      // One worker, created by the first request, stopped once every request was answered.
      if (answered.get() == expectedRequests && workerCreated.get() != null) {
        workerStopped.compareAndSet(null, Instant.now());
      }
      Instant created = workerCreated.get();
      Instant stopped = workerStopped.get();
      body =
          created == null
              ? "[]"
              : "[{\"id\":\"dep_t-w1\",\"status\":\""
                  + (stopped == null ? "healthy" : "stopped")
                  + "\",\"gpu_type\":null,\"created_at\":\""
                  + created
                  + "\",\"healthy_at\":\""
                  + created.plusMillis(200)
                  + "\",\"stopped_at\":"
                  + (stopped == null ? "null" : "\"" + stopped + "\"")
                  + ",\"in_flight\":0,\"failure_reason\":null,\"cold_start\":{\"decided_at\":\""
                  + created.minusMillis(50)
                  + "\"}}]";
    } else {
      body =
          "{\"id\":\"dep_t\",\"name\":\"t\",\"status\":\"running\",\"model\":\"tiny\","
              + "\"framework\":\"sim\",\"min_workers\":0,\"max_workers\":2,\"concurrency\":4,"
              + "\"idle_timeout_seconds\":1,\"max_tokens_limit\":50,\"wait_time_seconds\":7,"
              + "\"autoscaling\":{\"target_utilization\":0.5,\"scale_down_delay_seconds\":null,"
              + "\"warm_buffer\":1,\"queue_delay_ms\":0}}";
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(200, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** The prompt's word count picks the answer: 3 ok, 4 → 429, 5 → 503, 6 breaks, 7 hangs. */
  private void chat(HttpExchange exchange) throws IOException {
    workerCreated.compareAndSet(null, Instant.now());
    authorizations.add(exchange.getRequestHeaders().getFirst("Authorization"));
    String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    bodies.add(body);
    Matcher content = CONTENT.matcher(body);
    int words = content.find() ? content.group(1).split(" ").length : 0;
    arrivals.put(words, System.nanoTime());
    Matcher m = MAX_TOKENS.matcher(body);
    int tokens = m.find() ? Integer.parseInt(m.group(1)) : 0;
    try {
      switch (words) {
        case 4 -> plain(exchange, 429, "{\"title\":\"Too many requests\"}");
        case 5 -> plain(exchange, 503, "{\"title\":\"No capacity\"}");
        case 7 -> {
          exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
          exchange.sendResponseHeaders(200, 0);
          write(exchange.getResponseBody(), ": waiting\n\n");
          Thread.sleep(3_000);
          exchange.close();
        }
        default -> stream(exchange, words == 6 ? 1 : tokens, words == 6);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      // the client gave up
    } finally {
      answered.incrementAndGet();
    }
  }

  private static void plain(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  private static void stream(HttpExchange exchange, int tokens, boolean breakOff)
      throws IOException, InterruptedException {
    exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
    exchange.sendResponseHeaders(200, 0);
    try (OutputStream out = exchange.getResponseBody()) {
      Thread.sleep(FIRST_CHUNK_DELAY_MS);
      write(out, ": keep-alive\n\n");
      write(out, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n");
      for (int i = 0; i < tokens; i++) {
        write(out, "data: {\"choices\":[{\"delta\":{\"content\":\"t\"}}]}\n\n");
      }
      if (breakOff) {
        write(
            out,
            "data: {\"error\":{\"message\":\"The worker failed mid-stream\",\"code\":502}}\n\n");
      } else {
        write(out, "data: [DONE]\n\n");
      }
    }
  }

  private static void write(OutputStream out, String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  private Path trace(String... rows) throws IOException {
    Path file = dir.resolve("trace.csv");
    Files.writeString(
        file, "TIMESTAMP,ContextTokens,GeneratedTokens\n" + String.join("\n", rows) + "\n");
    return file;
  }

  private ReplayTool.Options options(Path trace, String... extra) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "--url",
                "http://127.0.0.1:" + server.getAddress().getPort() + "/",
                "--deployment",
                "dep_t",
                "--trace",
                trace.toString()));
    args.addAll(List.of(extra));
    return ReplayTool.Options.parse(args.toArray(String[]::new), Map.of("GANTRY_API_KEY", KEY));
  }

  @Test
  @Timeout(30)
  void replaysEveryRequestAtItsTimeAndSortsTheAnswers() throws Exception {
    // Prompt words (ContextTokens / 2) pick the answer; rows 50 ms apart, replayed at 2x.
    Path trace =
        trace(
            "2023-11-16 18:00:00.000,6,100",
            "2023-11-16 18:00:00.050,6,5",
            "2023-11-16 18:00:00.100,8,5",
            "2023-11-16 18:00:00.150,10,5",
            "2023-11-16 18:00:00.200,12,5",
            "2023-11-16 18:00:00.250,14,5");
    expectedRequests = 6;
    ByteArrayOutputStream log = new ByteArrayOutputStream();

    ReplayReport report =
        ReplayTool.run(
            options(
                trace,
                "--speed",
                "2",
                "--prompt-scale",
                "2",
                "--timeout-seconds",
                "1.5",
                "--slo-ttft-ms",
                "1000",
                "--settle-seconds",
                "10"),
            new PrintStream(log, true, StandardCharsets.UTF_8));

    assertThat(report.requests()).isEqualTo(6);
    assertThat(report.ok()).isEqualTo(2);
    assertThat(report.tooMany()).isEqualTo(1);
    assertThat(report.serverErrors()).isEqualTo(1);
    assertThat(report.errors()).isEqualTo(2);
    assertThat(report.timeouts()).isEqualTo(1);
    assertThat(report.statuses()).isEqualTo(Map.of(200, 4, 429, 1, 503, 1));
    assertThat(report.ttftP50Ms()).isGreaterThanOrEqualTo(FIRST_CHUNK_DELAY_MS).isLessThan(1000);
    assertThat(report.sloAttainment()).isEqualTo(2 / 6.0);
    assertThat(report.firstError()).isEqualTo("HTTP 429: {\"title\":\"Too many requests\"}");
    // The trace's 100 generated tokens are cut to the deployment's max_tokens_limit of 50.
    assertThat(bodies)
        .anyMatch(b -> b.contains("\"max_tokens\":50,\"stream\":true"))
        .allMatch(b -> b.startsWith("{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\""));
    assertThat(authorizations).containsOnly("Bearer " + KEY);
    assertThat(report.workers().started()).isEqualTo(1);
    assertThat(report.workers().stillCurrent()).isZero();
    assertThat(report.workers().workerSeconds()).isGreaterThan(0).isLessThan(10);
    assertThat(report.ideal()).isNotNull();
    assertThat(report.ideal().workersStarted()).isEqualTo(1);
    assertThat(log.toString(StandardCharsets.UTF_8)).doesNotContain(KEY);
    assertThat(report.table()).doesNotContain(KEY);
    // The run's own what-if: the deployment's settings, the worker's measured cold start (decided
    // 50 ms before its creation, healthy 200 ms after it), the measured worker-seconds.
    ReplayReport.WhatIf whatIf = report.whatIf();
    assertThat(whatIf).isNotNull();
    assertThat(whatIf.policy()).isEqualTo(new ScalingPolicy(0, 2, 4, 0.5, -1, 1, 0));
    assertThat(whatIf.waitTimeMillis()).isEqualTo(7_000);
    assertThat(whatIf.coldStart().model()).isEqualTo(ColdStartModel.fixed(250));
    assertThat(whatIf.measuredWorkerSeconds()).isEqualTo(report.workers().workerSeconds());
    assertThat(whatIf.predictedWorkerSeconds()).isPositive();
    assertThat(report.table()).contains("what-if for this run's settings (measured request times");
    assertThat(Json.parseObject(report.json())).containsKey("whatif_worker_seconds");
  }

  @Test
  @Timeout(30)
  void theScheduleIsNotHeldUpBySlowAnswersAndFollowsTheSpeed() throws Exception {
    // A hanging request first; the next one is due 2 s later in the trace, 500 ms at 4x.
    Path trace = trace("2023-11-16 18:00:00.000,14,5", "2023-11-16 18:00:02.000,6,5");
    expectedRequests = 2;

    ReplayReport report =
        ReplayTool.run(
            options(
                trace,
                "--speed",
                "4",
                "--prompt-scale",
                "2",
                "--timeout-seconds",
                "2",
                "--settle-seconds",
                "0",
                "--engine-ttft-ms",
                "50",
                "--engine-inter-token-ms",
                "5"),
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

    assertThat(report.ok()).isEqualTo(1);
    assertThat(report.timeouts()).isEqualTo(1);
    assertThat(report.idealDurations()).startsWith("engine timing");
    // Sent 500 ms after the first, not after its 2 s timeout, nor 2 s later as at 1x.
    long gapMs = (arrivals.get(3) - arrivals.get(7)) / 1_000_000;
    assertThat(gapMs).isBetween(450L, 1500L);
  }

  @Test
  void anEmptySliceIsRefusedBeforeGantryIsAsked() throws IOException {
    Path trace = trace("2023-11-16 18:00:00.000,6,5", "2023-11-16 18:01:30.000,6,5");

    assertThatThrownBy(
            () ->
                ReplayTool.run(
                    options(trace, "--from-minute", "2"),
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the slice of trace.csv has no requests (its requests span minutes 0 to 1.5)");
    assertThat(authorizations).isEmpty();
  }

  @Test
  void optionsHaveDefaultsAndAreChecked() throws IOException {
    Path trace = trace("2023-11-16 18:00:00.000,6,100");
    ReplayTool.Options o =
        ReplayTool.Options.parse(
            new String[] {"--deployment", "dep_t", "--trace", trace.toString()},
            Map.of("GANTRY_KEY", "gk_from_readme_env"));

    assertThat(o.url()).isEqualTo(URI.create("http://localhost:8080/"));
    assertThat(o.key()).isEqualTo("gk_from_readme_env");
    assertThat(o.speed()).isEqualTo(1);
    assertThat(o.fromMinute()).isZero();
    assertThat(o.minutes()).isInfinite();
    assertThat(o.sloTtftMs()).isEqualTo(2000);
    assertThat(o.maxTokens(0, 4096)).isEqualTo(1);
    assertThat(o.maxTokens(5000, 4096)).isEqualTo(4096);
    assertThat(o.promptWords(2342)).isEqualTo(2342);

    ReplayTool.Options capped = options(trace, "--max-tokens-cap=64", "--prompt-scale", "4");
    assertThat(capped.key()).isEqualTo(KEY);
    assertThat(capped.maxTokens(500, 4096)).isEqualTo(64);
    assertThat(capped.maxTokens(10, 4096)).isEqualTo(10);
    assertThat(capped.promptWords(2342)).isEqualTo(586);
    assertThat(capped.promptWords(1)).isEqualTo(1);

    assertThat(ReplayTool.Options.parse(new String[] {"--help"}, Map.of())).isNull();
    String[] base = {"--deployment", "dep_t", "--trace", trace.toString()};
    assertThatThrownBy(() -> ReplayTool.Options.parse(base, Map.of()))
        .hasMessageContaining("no API key");
    assertThatThrownBy(() -> options(trace, "--speed", "0")).hasMessageContaining("--speed");
    assertThatThrownBy(() -> options(trace, "--speed", "fast")).hasMessageContaining("--speed");
    assertThatThrownBy(() -> options(trace, "--minutes", "0")).hasMessageContaining("--minutes");
    assertThatThrownBy(() -> options(trace, "--bogus", "1")).hasMessageContaining("bogus");
    assertThatThrownBy(() -> options(trace, "--engine-ttft-ms", "50"))
        .hasMessageContaining("go together");
    assertThatThrownBy(() -> options(dir.resolve("missing.csv")))
        .hasMessageContaining("no such file");
  }

  @Test
  void aBundledTraceIsFoundByName() throws IOException {
    Files.writeString(dir.resolve("AzureLLMInferenceTrace_code.csv"), "x");

    ReplayTool.Options o =
        ReplayTool.Options.parse(
            new String[] {"--deployment", "d", "--trace", "code"},
            Map.of("GANTRY_API_KEY", KEY, "GANTRY_TRACES_DIR", dir.toString()));

    assertThat(o.trace()).isEqualTo(dir.resolve("AzureLLMInferenceTrace_code.csv"));
  }

  private static ReplayTool.StreamRecorder received(int status, String... parts) {
    ReplayTool.StreamRecorder recorder = new ReplayTool.StreamRecorder();
    recorder.apply(
        new HttpResponse.ResponseInfo() {
          @Override
          public int statusCode() {
            return status;
          }

          @Override
          public HttpHeaders headers() {
            return HttpHeaders.of(Map.of(), (a, b) -> true);
          }

          @Override
          public HttpClient.Version version() {
            return HttpClient.Version.HTTP_1_1;
          }
        });
    for (String part : parts) {
      recorder.onNext(List.of(ByteBuffer.wrap(part.getBytes(StandardCharsets.UTF_8))));
    }
    recorder.onComplete();
    return recorder;
  }

  @Test
  void aStreamCountsOnlyWhenItEndsProperlyWithoutAnErrorEvent() {
    String role = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
    String error = "data: {\"error\":{\"message\":\"The worker failed mid-stream\"}}\n\n";

    assertThat(received(200, ": ping\n\n", role, "data: [DO", "NE]\n\n").kind())
        .isEqualTo(ReplayReport.Kind.OK);
    assertThat(received(200, ": ping\n\n", role, "data: [DONE]\n\n").firstTokenNanos())
        .isPositive();
    ReplayTool.StreamRecorder errorThenDone = received(200, role, error, "data: [DONE]\n\n");
    assertThat(errorThenDone.kind()).isEqualTo(ReplayReport.Kind.BROKEN_STREAM);
    assertThat(errorThenDone.error()).contains("The worker failed mid-stream");
    assertThat(received(200, role).kind()).isEqualTo(ReplayReport.Kind.BROKEN_STREAM);
    assertThat(received(200, "data: [DONE]\n\n").kind()).isEqualTo(ReplayReport.Kind.BROKEN_STREAM);
    assertThat(received(429, "{}").kind()).isEqualTo(ReplayReport.Kind.TOO_MANY_REQUESTS);
    assertThat(received(504, "{}").kind()).isEqualTo(ReplayReport.Kind.SERVER_ERROR);
    ReplayTool.StreamRecorder notFound = received(404, "{\"title\":\"Not found\"}");
    assertThat(notFound.kind()).isEqualTo(ReplayReport.Kind.CLIENT_ERROR);
    assertThat(notFound.error()).isEqualTo("HTTP 404: {\"title\":\"Not found\"}");
  }

  @Test
  void aPromptHasTheAskedNumberOfWords() {
    String body = ReplayTool.body("m\"x", 5, 7);

    assertThat(body)
        .isEqualTo(
            "{\"model\":\"m\\\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"the gantry crane"
                + " lifts a\"}],\"max_tokens\":7,\"stream\":true}");
  }
}
