package dev.gantry.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Replays a request trace (Azure LLM inference CSV or Mooncake JSONL) against a live Gantry
 * deployment through its streaming OpenAI route, time-compressed, and reports what users would have
 * seen (statuses, time to first token, SLO attainment) next to what it cost (workers started,
 * worker-seconds) and what an ideal reactive autoscaler would have used. Run with {@code --help}.
 *
 * <p>Each request is sent at its own (compressed) time from a virtual thread of its own, so slow
 * answers never hold up the schedule. The prompt is {@code ContextTokens} words (the {@code sim}
 * engine counts words as tokens) and {@code max_tokens} is the generated tokens of the trace.
 */
public final class ReplayTool {

  static final String USAGE =
      """
      Usage: ./gantry replay --deployment ID --trace FILE [options]
             (java -cp gantry-bench.jar dev.gantry.bench.ReplayTool ...)

      Replays a request trace against a live deployment through POST
      /openai/{id}/v1/chat/completions with "stream": true, each request at its (compressed) time,
      and prints requests by status, TTFT p50/p99, SLO attainment, workers started and
      worker-seconds used, next to an ideal reactive autoscaler's worker-seconds under the
      deployment's concurrency, max_workers and idle_timeout_seconds.

        --url URL                 Gantry's base URL (default http://localhost:8080)
        --key KEY                 API key (default: $GANTRY_API_KEY, else $GANTRY_KEY)
        --deployment ID           the deployment (dep_...); it must be running
        --trace FILE              Azure LLM inference trace CSV (TIMESTAMP,ContextTokens,
                                  GeneratedTokens) or Mooncake JSONL (timestamp in ms,
                                  input_length, output_length); the bundled traces also by
                                  name: code, conv, mooncake (bench/traces/)
        --speed X                 time compression: 10 replays 10 trace minutes in 1 (default 1)
        --from-minute M           start of the slice, in trace minutes (default 0)
        --minutes M               length of the slice, in trace minutes (default: to the end)
        --slo-ttft-ms MS          time-to-first-token objective (default 2000)
        --max-tokens-cap N        ask for at most N generated tokens per request (default: none)
        --prompt-scale X          send ContextTokens / X prompt words (default 1)
        --timeout-seconds S       a request (its whole stream) gives up after S (default 300)
        --settle-seconds S        after the last answer, wait at most S for the on-demand workers
                                  to be reaped, so their idle time counts (default:
                                  idle_timeout_seconds + 60)
        --engine-ttft-ms MS       with --engine-inter-token-ms: the ideal's request durations are
        --engine-inter-token-ms MS  ttft + max_tokens x inter-token (the sim's timing flags)
                                  instead of being taken from the measured streams
        --help                    print this help
        --what-if                 no replay: run Gantry's autoscaler offline over the trace for
                                  a grid of autoscaling settings (--what-if --help)

      After the table, the run checks the what-if simulation against itself: it runs Gantry's
      autoscaler offline under the deployment's own settings (concurrency, min/max workers, idle
      timeout, wait time, autoscaling) over this run's requests, each arriving as sent and holding
      its slot as long as measured (first token to end, plus the median TTFT: the engine's own
      first token under the run's load, without the wait for a worker), with cold starts from a
      model fitted to this run's workers: base + per_boot x the workers already booting when one
      is decided (least squares over decided_at to healthy_at; the mean when that cannot be
      fitted). It prints the predicted worker-seconds next to the measured ones ("what-if for
      this run's settings ...") and the fitted model as --what-if options.

      The last line is REPLAY_RESULT followed by the figures as one JSON object.
      Exit status: 0 when the replay ran (whatever the answers), 1 when it could not, 2 on bad
      arguments.
      """;

  private static final Map<String, String> BUNDLED =
      Map.of(
          "code", "AzureLLMInferenceTrace_code.csv",
          "conv", "AzureLLMInferenceTrace_conv.csv",
          "mooncake", "mooncake_conversation_trace.jsonl");

  private static final String[] WORDS = {
    "the",
    "gantry",
    "crane",
    "lifts",
    "a",
    "container",
    "from",
    "ship",
    "to",
    "quay",
    "and",
    "moves",
    "it",
    "along",
    "rail",
    "while",
    "operator",
    "watches",
    "load"
  };

  private ReplayTool() {}

  /** The command-line options. */
  record Options(
      URI url,
      String key,
      String deployment,
      Path trace,
      double speed,
      double fromMinute,
      double minutes,
      long sloTtftMs,
      int maxTokensCap,
      double promptScale,
      double timeoutSeconds,
      double settleSeconds,
      Integer engineTtftMs,
      Integer engineInterTokenMs) {

    /**
     * Parses the arguments; {@code null} means {@code --help}.
     *
     * @param env the environment ({@code GANTRY_API_KEY}, {@code GANTRY_KEY}, and {@code
     *     GANTRY_TRACES_DIR} where the bundled traces lie)
     * @throws IllegalArgumentException saying what is wrong
     */
    static Options parse(String[] args, Map<String, String> env) {
      Map<String, String> values = values(args);
      if (values == null) {
        return null;
      }
      String url = take(values, "url", "http://localhost:8080");
      String key = values.remove("key");
      if (key == null) {
        key = env.getOrDefault("GANTRY_API_KEY", env.get("GANTRY_KEY"));
      }
      String deployment = values.remove("deployment");
      String trace = values.remove("trace");
      if (deployment == null || trace == null) {
        throw new IllegalArgumentException("--deployment and --trace are required");
      }
      if (key == null || key.isBlank()) {
        throw new IllegalArgumentException("no API key: pass --key or set GANTRY_API_KEY");
      }
      Options options =
          new Options(
              URI.create(url.replaceAll("/+$", "") + "/"),
              key,
              deployment,
              tracePath(trace, env.get("GANTRY_TRACES_DIR")),
              number(values, "speed", 1),
              number(values, "from-minute", 0),
              number(values, "minutes", Double.POSITIVE_INFINITY),
              (long) number(values, "slo-ttft-ms", 2000),
              (int) number(values, "max-tokens-cap", 0),
              number(values, "prompt-scale", 1),
              number(values, "timeout-seconds", 300),
              number(values, "settle-seconds", -1),
              optionalInt(values, "engine-ttft-ms"),
              optionalInt(values, "engine-inter-token-ms"));
      if (!values.isEmpty()) {
        throw new IllegalArgumentException("unknown option(s): --" + values.keySet());
      }
      if (!(options.speed > 0) || Double.isInfinite(options.speed)) {
        throw new IllegalArgumentException("--speed must be a number > 0");
      }
      if (options.fromMinute < 0 || !(options.minutes > 0)) {
        throw new IllegalArgumentException("--from-minute must be >= 0 and --minutes > 0");
      }
      if (options.sloTtftMs < 1 || options.maxTokensCap < 0 || !(options.promptScale > 0)) {
        throw new IllegalArgumentException(
            "--slo-ttft-ms must be >= 1, --max-tokens-cap >= 0, --prompt-scale > 0");
      }
      if (!(options.timeoutSeconds > 0)) {
        throw new IllegalArgumentException("--timeout-seconds must be > 0");
      }
      if ((options.engineTtftMs == null) != (options.engineInterTokenMs == null)) {
        throw new IllegalArgumentException(
            "--engine-ttft-ms and --engine-inter-token-ms go together");
      }
      return options;
    }

    /** {@code --name value} and {@code --name=value} pairs by name; null when help is asked. */
    static Map<String, String> values(String[] args) {
      Map<String, String> values = new LinkedHashMap<>();
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if (arg.equals("--help") || arg.equals("-h")) {
          return null;
        }
        if (!arg.startsWith("--")) {
          throw new IllegalArgumentException("unexpected argument: " + arg);
        }
        int eq = arg.indexOf('=');
        if (eq > 0) {
          values.put(arg.substring(2, eq), arg.substring(eq + 1));
        } else if (i + 1 < args.length) {
          values.put(arg.substring(2), args[++i]);
        } else {
          throw new IllegalArgumentException("missing value for " + arg);
        }
      }
      return values;
    }

    static Path tracePath(String trace, String bundledDir) {
      Path path = Path.of(trace);
      if (!Files.exists(path) && bundledDir != null) {
        Path bundled = Path.of(bundledDir).resolve(BUNDLED.getOrDefault(trace, trace));
        if (Files.exists(bundled)) {
          return bundled;
        }
      }
      if (!Files.isReadable(path)) {
        throw new IllegalArgumentException(
            "--trace " + trace + ": no such file (bundled names: code, conv, mooncake)");
      }
      return path;
    }

    static String take(Map<String, String> values, String name, String fallback) {
      String value = values.remove(name);
      return value == null ? fallback : value;
    }

    static double number(Map<String, String> values, String name, double fallback) {
      String value = values.remove(name);
      if (value == null) {
        return fallback;
      }
      try {
        double d = Double.parseDouble(value);
        if (Double.isNaN(d)) {
          throw new NumberFormatException();
        }
        return d;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--" + name + " must be a number, got " + value);
      }
    }

    static Integer optionalInt(Map<String, String> values, String name) {
      String value = values.remove(name);
      if (value == null) {
        return null;
      }
      try {
        int n = Integer.parseInt(value);
        if (n < 0) {
          throw new NumberFormatException();
        }
        return n;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--" + name + " must be a whole number >= 0");
      }
    }

    /** The {@code max_tokens} of a request: the trace's, capped, at least 1. */
    int maxTokens(int generatedTokens, int deploymentLimit) {
      int n = Math.max(1, generatedTokens);
      if (maxTokensCap > 0) {
        n = Math.min(n, maxTokensCap);
      }
      if (deploymentLimit > 0) {
        n = Math.min(n, deploymentLimit);
      }
      return n;
    }

    /** The number of prompt words for a request of {@code contextTokens} tokens. */
    int promptWords(int contextTokens) {
      return (int) Math.max(1, Math.round(contextTokens / promptScale));
    }
  }

  public static void main(String[] args) {
    if (List.of(args).contains("--what-if")) {
      WhatIfTool.main(
          java.util.Arrays.stream(args).filter(a -> !a.equals("--what-if")).toArray(String[]::new));
      return;
    }
    Options options;
    try {
      options = Options.parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("replay: " + e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
      return;
    }
    if (options == null) {
      System.out.print(USAGE);
      return;
    }
    try {
      ReplayReport report = run(options, System.err);
      System.out.print(report.table());
      System.out.println("REPLAY_RESULT " + report.json());
    } catch (IOException | IllegalArgumentException | IllegalStateException e) {
      System.err.println("replay: " + e.getMessage());
      System.exit(1);
    } catch (InterruptedException e) {
      System.err.println("replay: interrupted");
      System.exit(1);
    }
  }

  /** Runs the whole replay; progress goes to {@code log}. */
  static ReplayReport run(Options options, PrintStream log)
      throws IOException, InterruptedException {
    Trace trace = Trace.read(options.trace());
    Trace slice = trace.slice(options.fromMinute(), options.minutes());
    if (slice.requests().isEmpty()) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "the slice of %s has no requests (its requests span minutes 0 to %.1f)",
              options.trace().getFileName(),
              trace.spanMinutes()));
    }
    List<Trace.Scheduled> schedule = slice.schedule(options.speed());
    try (HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build()) {
      GantryApi api = new GantryApi(client, options.url(), options.key());
      GantryApi.Deployment deployment = api.deployment(options.deployment());
      if (!deployment.status().equals("running")) {
        throw new IllegalStateException(
            "deployment " + deployment.id() + " is " + deployment.status() + ", not running");
      }
      String setup = setup(options, slice, deployment);
      log.println("replay: " + setup);
      Set<String> before = new HashSet<>();
      for (GantryApi.Worker w : api.workers(deployment.id())) {
        before.add(w.id());
      }
      WorkerPoller poller = new WorkerPoller(api, deployment.id());

      Instant startInstant = Instant.now();
      long start = System.nanoTime();
      Thread pollerThread = Thread.ofVirtual().name("replay-poller").start(poller);
      AtomicReferenceArray<ReplayReport.Outcome> outcomes =
          new AtomicReferenceArray<>(schedule.size());
      AtomicInteger finished = new AtomicInteger();
      URI chat =
          options
              .url()
              .resolve(
                  "openai/"
                      + URLEncoder.encode(deployment.id(), StandardCharsets.UTF_8)
                      + "/v1/chat/completions");
      List<Thread> requests = new ArrayList<>(schedule.size());
      long nextProgress = start + 5_000_000_000L;
      long worstLag = 0;
      for (Trace.Scheduled s : schedule) {
        long due = start + s.sendAtNanos();
        while (true) {
          long now = System.nanoTime();
          if (now >= nextProgress) {
            log.printf(
                Locale.ROOT,
                "replay: %3.0f s: %d/%d sent, %d answered, %d workers current%n",
                (now - start) / 1e9,
                requests.size(),
                schedule.size(),
                finished.get(),
                poller.current());
            nextProgress += 5_000_000_000L;
          }
          if (now >= due) {
            worstLag = Math.max(worstLag, now - due);
            break;
          }
          Thread.sleep(Duration.ofNanos(Math.min(due, nextProgress) - now));
        }
        int maxTokens = options.maxTokens(s.request().outputTokens(), deployment.maxTokensLimit());
        String body =
            body(deployment.model(), options.promptWords(s.request().promptTokens()), maxTokens);
        requests.add(
            Thread.ofVirtual()
                .name("replay-" + s.index())
                .start(
                    () -> {
                      outcomes.set(
                          s.index(),
                          send(client, chat, options, body, s.index(), maxTokens, start));
                      finished.incrementAndGet();
                    }));
      }
      for (Thread t : requests) {
        t.join();
      }
      long answeredAt = System.nanoTime();
      log.printf(
          Locale.ROOT,
          "replay: all %d answered after %.1f s (the schedule ran at most %.0f ms late)%n",
          schedule.size(),
          (answeredAt - start) / 1e9,
          worstLag / 1e6);

      double settle =
          options.settleSeconds() >= 0
              ? options.settleSeconds()
              : deployment.idleTimeoutSeconds() + 60;
      long settleUntil = answeredAt + (long) (settle * 1e9);
      log.printf(
          Locale.ROOT,
          "replay: waiting (at most %.0f s) for the on-demand workers to be reaped%n",
          settle);
      while (poller.current() > deployment.minWorkers() && System.nanoTime() < settleUntil) {
        Thread.sleep(200);
      }
      poller.stop();
      pollerThread.join();
      Instant endInstant = Instant.now();
      long end = System.nanoTime();
      poller.pollOnce(); // the latest stop times
      GantryApi.Usage usage =
          GantryApi.Usage.of(before, poller.workers(), startInstant, endInstant);

      List<ReplayReport.Outcome> all = new ArrayList<>(schedule.size());
      for (int i = 0; i < schedule.size(); i++) {
        all.add(outcomes.get(i));
      }
      ReplayReport.IdealInput input =
          ReplayReport.idealInput(all, options.engineTtftMs(), options.engineInterTokenMs());
      IdealAutoscaler.Result ideal = null;
      if (input != null) {
        ideal =
            IdealAutoscaler.run(
                input.jobs(),
                new IdealAutoscaler.Settings(
                    deployment.concurrency(),
                    deployment.minWorkers(),
                    deployment.maxWorkers(),
                    deployment.idleTimeoutSeconds() * 1000L),
                Math.round((end - start) / 1e6));
      }
      if (poller.failure() != null) {
        log.println("replay: a poll of the workers listing failed: " + poller.failure());
      }
      ReplayReport report =
          ReplayReport.summarize(
              setup,
              all,
              options.sloTtftMs(),
              usage,
              poller.peak(),
              ideal,
              input == null ? null : input.source());
      ReplayReport.WhatIfInput whatIfInput =
          ReplayReport.whatIfInput(all, ReplayReport.Span.healthy(poller.workers(), startInstant));
      if (whatIfInput == null) {
        return report;
      }
      return report.withWhatIf(
          ReplayReport.WhatIf.predict(
              whatIfInput,
              deployment,
              poller.workers(),
              before,
              Math.round((end - start) / 1e6),
              usage.workerSeconds()));
    }
  }

  private static String setup(Options options, Trace slice, GantryApi.Deployment d) {
    String minutes =
        Double.isInfinite(options.minutes())
            ? "to the end"
            : String.format(Locale.ROOT, "for %s min", plain(options.minutes()));
    return String.format(
        Locale.ROOT,
        "%s (%s) from minute %s %s at %sx: %d requests; deployment %s: concurrency %d,"
            + " min_workers %d, max_workers %d, idle_timeout_seconds %d%s%s",
        options.trace().getFileName(),
        slice.format() == Trace.Format.AZURE_CSV ? "Azure CSV" : "Mooncake JSONL",
        plain(options.fromMinute()),
        minutes,
        plain(options.speed()),
        slice.requests().size(),
        d.id(),
        d.concurrency(),
        d.minWorkers(),
        d.maxWorkers(),
        d.idleTimeoutSeconds(),
        options.maxTokensCap() > 0 ? "; max_tokens capped at " + options.maxTokensCap() : "",
        options.promptScale() != 1 ? "; prompts / " + plain(options.promptScale()) : "");
  }

  static String plain(double value) {
    return value == Math.rint(value)
        ? Long.toString((long) value)
        : String.format(Locale.ROOT, "%s", value);
  }

  /** The request body: a prompt of {@code words} words and the given {@code max_tokens}. */
  static String body(String model, int words, int maxTokens) {
    StringBuilder prompt = new StringBuilder(words * 6);
    for (int i = 0; i < words; i++) {
      if (i > 0) {
        prompt.append(' ');
      }
      prompt.append(WORDS[i % WORDS.length]);
    }
    return "{\"model\":"
        + Json.quote(model)
        + ",\"messages\":[{\"role\":\"user\",\"content\":"
        + Json.quote(prompt.toString())
        + "}],\"max_tokens\":"
        + maxTokens
        + ",\"stream\":true}";
  }

  /** Sends one streaming request and waits for its end (or for the timeout). */
  static ReplayReport.Outcome send(
      HttpClient client,
      URI chat,
      Options options,
      String body,
      int index,
      int maxTokens,
      long start) {
    Duration timeout = Duration.ofMillis(Math.round(options.timeoutSeconds() * 1000));
    HttpRequest request =
        HttpRequest.newBuilder(chat)
            .timeout(timeout)
            .header("Authorization", "Bearer " + options.key())
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build();
    long sent = System.nanoTime();
    StreamRecorder recorder = new StreamRecorder();
    CompletableFuture<HttpResponse<Void>> future = client.sendAsync(request, recorder);
    ReplayReport.Kind kind;
    String error = null;
    try {
      future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      kind = recorder.kind();
      error = recorder.error();
    } catch (TimeoutException e) {
      future.cancel(true);
      kind = ReplayReport.Kind.TIMEOUT;
      error = "no complete answer within " + plainSeconds(options.timeoutSeconds());
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof HttpTimeoutException) {
        kind = ReplayReport.Kind.TIMEOUT;
        error = "no answer within " + plainSeconds(options.timeoutSeconds());
      } else if (recorder.status() != 0) {
        kind = ReplayReport.Kind.BROKEN_STREAM;
        error = "the stream broke off: " + cause;
      } else {
        kind = ReplayReport.Kind.CONNECTION_ERROR;
        error = String.valueOf(cause);
      }
    } catch (InterruptedException e) {
      future.cancel(true);
      Thread.currentThread().interrupt();
      kind = ReplayReport.Kind.CONNECTION_ERROR;
      error = "interrupted";
    }
    long ended = System.nanoTime();
    long first = recorder.firstTokenNanos();
    return new ReplayReport.Outcome(
        index,
        maxTokens,
        sent - start,
        kind,
        recorder.status(),
        first < 0 ? -1 : first - start,
        ended - start,
        error);
  }

  private static String plainSeconds(double seconds) {
    return plain(seconds) + " s";
  }

  /**
   * Receives one answer: its status, when its first chunk with content or role arrived, and whether
   * it ended properly ({@code data: [DONE]}, no error event). {@code onNext} calls never overlap,
   * but the status and the first token are read from the sending thread: volatile.
   */
  static final class StreamRecorder
      implements HttpResponse.BodyHandler<Void>, HttpResponse.BodySubscriber<Void> {

    private static final int ERROR_BODY_LIMIT = 300;

    private volatile int status;
    private volatile long firstTokenNanos = -1;
    private volatile boolean done;
    private volatile String errorEvent;
    private long arrival;
    private final StringBuilder errorBody = new StringBuilder();
    private final SseParser parser = new SseParser(this::onEvent);
    private final CompletableFuture<Void> body = new CompletableFuture<>();

    @Override
    public HttpResponse.BodySubscriber<Void> apply(HttpResponse.ResponseInfo info) {
      status = info.statusCode();
      return this;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      arrival = System.nanoTime();
      for (ByteBuffer item : items) {
        if (status / 100 == 2) {
          parser.feed(item);
        } else if (errorBody.length() < ERROR_BODY_LIMIT) {
          errorBody.append(StandardCharsets.UTF_8.decode(item));
        } else {
          item.position(item.limit());
        }
      }
    }

    private void onEvent(String event) {
      if (!event.startsWith("data:")) {
        return; // a comment (keep-alive) or another field
      }
      String data = event.substring(5).strip();
      if (data.equals("[DONE]")) {
        done = true;
      } else if (data.startsWith("{\"error\"")) {
        if (errorEvent == null) {
          errorEvent = Json.abbreviate(data);
        }
      } else if (firstTokenNanos < 0) {
        firstTokenNanos = arrival;
      }
    }

    @Override
    public void onError(Throwable throwable) {
      body.completeExceptionally(throwable);
    }

    @Override
    public void onComplete() {
      body.complete(null);
    }

    @Override
    public CompletionStage<Void> getBody() {
      return body;
    }

    int status() {
      return status;
    }

    long firstTokenNanos() {
      return firstTokenNanos;
    }

    ReplayReport.Kind kind() {
      if (status == 429) {
        return ReplayReport.Kind.TOO_MANY_REQUESTS;
      }
      if (status >= 500) {
        return ReplayReport.Kind.SERVER_ERROR;
      }
      if (status / 100 != 2) {
        return ReplayReport.Kind.CLIENT_ERROR;
      }
      if (errorEvent != null || !done || firstTokenNanos < 0) {
        return ReplayReport.Kind.BROKEN_STREAM;
      }
      return ReplayReport.Kind.OK;
    }

    String error() {
      if (status / 100 != 2) {
        String text = errorBody.toString().strip();
        return "HTTP " + status + ": " + Json.abbreviate(text);
      }
      if (errorEvent != null) {
        return "error event mid-stream: " + errorEvent;
      }
      if (!done) {
        return "the stream ended without data: [DONE]";
      }
      if (firstTokenNanos < 0) {
        return "the stream had no chunk before data: [DONE]";
      }
      return null;
    }
  }

  /**
   * Lists the deployment's workers once a second: keeps the latest entry of every worker seen and
   * the most current workers at once.
   */
  static final class WorkerPoller implements Runnable {
    private final GantryApi api;
    private final String deployment;
    private final Map<String, GantryApi.Worker> workers = new ConcurrentHashMap<>();
    private volatile boolean stopped;
    private volatile int current;
    private volatile int peak;
    private volatile String failure;

    WorkerPoller(GantryApi api, String deployment) {
      this.api = api;
      this.deployment = deployment;
    }

    @Override
    public void run() {
      long next = System.nanoTime();
      while (!stopped) {
        pollOnce();
        next += 1_000_000_000L;
        long wait = next - System.nanoTime();
        if (wait > 0) {
          try {
            Thread.sleep(Duration.ofNanos(wait));
          } catch (InterruptedException e) {
            return;
          }
        }
      }
    }

    void pollOnce() {
      try {
        int now = 0;
        for (GantryApi.Worker w : api.workers(deployment)) {
          workers.put(w.id(), w);
          if (w.current()) {
            now++;
          }
        }
        current = now;
        peak = Math.max(peak, now);
      } catch (IOException | IllegalArgumentException e) {
        failure = e.getMessage();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void stop() {
      stopped = true;
    }

    int current() {
      return current;
    }

    int peak() {
      return peak;
    }

    String failure() {
      return failure;
    }

    List<GantryApi.Worker> workers() {
      return List.copyOf(workers.values());
    }
  }
}
