package dev.gantry.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A streaming load generator for OpenAI-compatible chat completions. It keeps {@code --streams} SSE
 * streams ({@code "stream": true}) open at all times, each client opening the next stream as soon
 * as its previous one ends, for a warm-up period and then a measured period. For every stream
 * started in the measured period it records the time from sending the request to the first SSE
 * event (time to first chunk) and the gap between every two consecutive events (including the final
 * {@code data: [DONE]}), timed when the bytes reach the client. It prints p50/p99 of both and a
 * machine-readable {@code RESULT} line.
 *
 * <p>Uses only the JDK ({@code java.net.http.HttpClient}, HTTP/1.1 with keep-alive, one virtual
 * thread per stream slot). Run it with {@code --help} for the flags.
 */
public final class StreamBench {

  static final String USAGE =
      """
      Usage: java -jar gantry-bench.jar --url URL --model NAME [options]

      Keeps N concurrent SSE chat-completion streams open and prints time-to-first-chunk and
      inter-chunk gap percentiles.

        --url URL              full URL of .../v1/chat/completions (required)
        --model NAME           model field of the request (required)
        --key KEY              bearer key (default: $BENCH_KEY, none when unset)
        --streams N            concurrent streams (default 64)
        --max-tokens N         max_tokens of each request, i.e. chunks per stream (default 60)
        --warmup-seconds S     warm-up period, not recorded (default 5)
        --duration-seconds S   measured period: streams started in it are recorded (default 15)
        --stagger-ms MS        spread the first requests of the N clients over this time (default 1000)
        --timeout-seconds S    per-request timeout (default 60)
        --label TEXT           name printed with the results (default "target")
      """;

  private StreamBench() {}

  /** The command-line options. */
  record Options(
      URI url,
      String model,
      String key,
      int streams,
      int maxTokens,
      double warmupSeconds,
      double durationSeconds,
      long staggerMs,
      double timeoutSeconds,
      String label) {

    static Options parse(String[] args) {
      Map<String, String> values = new LinkedHashMap<>();
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if (!arg.startsWith("--")) {
          throw new IllegalArgumentException("unexpected argument: " + arg);
        }
        int eq = arg.indexOf('=');
        if (eq > 0) {
          values.put(arg.substring(2, eq), arg.substring(eq + 1));
        } else if (arg.equals("--help")) {
          values.put("help", "");
        } else if (i + 1 < args.length) {
          values.put(arg.substring(2), args[++i]);
        } else {
          throw new IllegalArgumentException("missing value for " + arg);
        }
      }
      if (values.containsKey("help")) {
        return null;
      }
      String url = values.remove("url");
      String model = values.remove("model");
      if (url == null || model == null) {
        throw new IllegalArgumentException("--url and --model are required");
      }
      String env = System.getenv("BENCH_KEY");
      Options options =
          new Options(
              URI.create(url),
              model,
              values.containsKey("key") ? values.remove("key") : env == null ? "" : env,
              Integer.parseInt(values.getOrDefault("streams", "64")),
              Integer.parseInt(values.getOrDefault("max-tokens", "60")),
              Double.parseDouble(values.getOrDefault("warmup-seconds", "5")),
              Double.parseDouble(values.getOrDefault("duration-seconds", "15")),
              Long.parseLong(values.getOrDefault("stagger-ms", "1000")),
              Double.parseDouble(values.getOrDefault("timeout-seconds", "60")),
              values.getOrDefault("label", "target"));
      for (String known :
          List.of(
              "streams",
              "max-tokens",
              "warmup-seconds",
              "duration-seconds",
              "stagger-ms",
              "timeout-seconds",
              "label")) {
        values.remove(known);
      }
      if (!values.isEmpty()) {
        throw new IllegalArgumentException("unknown option(s): --" + values.keySet());
      }
      if (options.streams < 1 || options.maxTokens < 1 || options.durationSeconds <= 0) {
        throw new IllegalArgumentException("--streams, --max-tokens and --duration must be > 0");
      }
      return options;
    }
  }

  /** What a run measured. Times are in nanoseconds. */
  record Result(
      String label,
      int streams,
      long measuredStreams,
      long failedStreams,
      String firstError,
      Samples ttft,
      Samples gaps,
      long minChunks,
      long maxChunks,
      double measuredSeconds) {

    boolean ok() {
      return failedStreams == 0 && measuredStreams > 0;
    }

    /** {@code RESULT key=value ...}, times in microseconds. */
    String resultLine() {
      StringBuilder sb = new StringBuilder("RESULT");
      sb.append(" label=").append(label);
      sb.append(" ok=").append(ok());
      sb.append(" streams=").append(streams);
      sb.append(" measured_streams=").append(measuredStreams);
      sb.append(" failed_streams=").append(failedStreams);
      sb.append(" chunks_min=").append(minChunks);
      sb.append(" chunks_max=").append(maxChunks);
      sb.append(" gaps=").append(gaps.size());
      if (ttft.size() > 0) {
        sb.append(" ttft_p50_us=").append(micros(ttft.percentile(50)));
        sb.append(" ttft_p99_us=").append(micros(ttft.percentile(99)));
        sb.append(" ttft_max_us=").append(micros(ttft.max()));
      }
      if (gaps.size() > 0) {
        sb.append(" gap_p50_us=").append(micros(gaps.percentile(50)));
        sb.append(" gap_p99_us=").append(micros(gaps.percentile(99)));
        sb.append(" gap_p999_us=").append(micros(gaps.percentile(99.9)));
        sb.append(" gap_max_us=").append(micros(gaps.max()));
      }
      return sb.toString();
    }

    void print(PrintStream out) {
      out.printf(
          Locale.ROOT,
          "%s: %d concurrent streams, %d streams measured in %.1f s (%d failed), %d-%d chunks"
              + " each%n",
          label,
          streams,
          measuredStreams,
          measuredSeconds,
          failedStreams,
          minChunks,
          maxChunks);
      if (ttft.size() > 0) {
        out.printf(
            Locale.ROOT,
            "  time to first chunk  p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms%n",
            millis(ttft.percentile(50)),
            millis(ttft.percentile(99)),
            millis(ttft.max()));
      }
      if (gaps.size() > 0) {
        out.printf(
            Locale.ROOT,
            "  inter-chunk gap      p50 %8.3f ms  p99 %8.3f ms  p99.9 %8.3f ms  max %8.3f ms"
                + " (%d gaps)%n",
            millis(gaps.percentile(50)),
            millis(gaps.percentile(99)),
            millis(gaps.percentile(99.9)),
            millis(gaps.max()),
            gaps.size());
      }
      if (firstError != null) {
        out.println("  first error: " + firstError);
      }
      out.println(resultLine());
    }
  }

  public static void main(String[] args) throws Exception {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("stream-bench: " + e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
      return;
    }
    if (options == null) {
      System.out.print(USAGE);
      return;
    }
    Result result = run(options);
    result.print(System.out);
    System.exit(result.ok() ? 0 : 1);
  }

  /** Runs the warm-up and the measured period and returns what was measured. */
  static Result run(Options options) throws InterruptedException {
    String body =
        "{\"model\":"
            + jsonString(options.model)
            + ",\"messages\":[{\"role\":\"user\",\"content\":\"Write a short story about a"
            + " gantry crane.\"}],\"max_tokens\":"
            + options.maxTokens
            + ",\"stream\":true}";
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(options.url)
            .timeout(Duration.ofMillis((long) (options.timeoutSeconds * 1000)))
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    if (!options.key.isEmpty()) {
      builder.header("Authorization", "Bearer " + options.key);
    }
    HttpRequest request = builder.build();

    Aggregate aggregate = new Aggregate();
    long begin = System.nanoTime();
    long measureFrom = begin + (long) (options.warmupSeconds * 1e9);
    long measureUntil = measureFrom + (long) (options.durationSeconds * 1e9);
    try (HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build()) {
      List<Thread> threads = new ArrayList<>(options.streams);
      for (int i = 0; i < options.streams; i++) {
        long delayNanos = options.staggerMs * 1_000_000L * i / options.streams;
        threads.add(
            Thread.ofVirtual()
                .name("stream-" + i)
                .start(
                    () ->
                        clientLoop(
                            client,
                            request,
                            begin + delayNanos,
                            measureFrom,
                            measureUntil,
                            aggregate)));
      }
      for (Thread thread : threads) {
        thread.join();
      }
    }
    return aggregate.result(options, measureFrom, Math.max(measureUntil, aggregate.lastEnd.get()));
  }

  private static void clientLoop(
      HttpClient client,
      HttpRequest request,
      long startAt,
      long measureFrom,
      long measureUntil,
      Aggregate aggregate) {
    sleepUntil(startAt);
    while (true) {
      long start = System.nanoTime();
      if (start >= measureUntil) {
        return;
      }
      boolean measured = start >= measureFrom;
      Recorder recorder = new Recorder(start);
      String error;
      try {
        HttpResponse<Void> response = client.send(request, recorder);
        error = recorder.validate(response.statusCode());
      } catch (IOException e) {
        error = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      aggregate.add(recorder, measured, error);
      if (error != null) {
        sleepUntil(System.nanoTime() + 100_000_000L); // no hot loop against a failing target
      }
    }
  }

  private static void sleepUntil(long nanoTime) {
    long wait;
    while ((wait = nanoTime - System.nanoTime()) > 0) {
      try {
        Thread.sleep(Duration.ofNanos(wait));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Merges the streams of all clients. */
  private static final class Aggregate {
    private final Samples ttft = new Samples();
    private final Samples gaps = new Samples();
    private final AtomicLong lastEnd = new AtomicLong();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private long measured;
    private long failed;
    private long minChunks = Long.MAX_VALUE;
    private long maxChunks;

    synchronized void add(Recorder recorder, boolean measuredStream, String error) {
      if (error != null) {
        failed++;
        firstError.compareAndSet(null, error);
        return;
      }
      if (!measuredStream) {
        return;
      }
      measured++;
      lastEnd.accumulateAndGet(recorder.lastEventNanos, Math::max);
      ttft.add(recorder.firstEventNanos - recorder.startNanos);
      gaps.addAll(recorder.gaps);
      minChunks = Math.min(minChunks, recorder.chunks);
      maxChunks = Math.max(maxChunks, recorder.chunks);
    }

    synchronized Result result(Options options, long from, long until) {
      return new Result(
          options.label,
          options.streams,
          measured,
          failed,
          firstError.get(),
          ttft,
          gaps,
          measured == 0 ? 0 : minChunks,
          maxChunks,
          (until - from) / 1e9);
    }
  }

  /**
   * Receives one response: timestamps every SSE event when its last bytes arrive. Flow guarantees
   * that {@code onNext} calls do not overlap, so no locking is needed.
   */
  static final class Recorder
      implements HttpResponse.BodyHandler<Void>, HttpResponse.BodySubscriber<Void> {

    private static final int ERROR_BODY_LIMIT = 300;

    final long startNanos;
    final Samples gaps = new Samples();
    long firstEventNanos = -1;
    long lastEventNanos = -1;

    /** SSE data events before {@code [DONE]}. */
    long chunks;

    boolean done;
    private int status;
    private long arrival;
    private final StringBuilder errorBody = new StringBuilder();
    private final SseParser parser = new SseParser(this::onEvent);
    private final CompletableFuture<Void> body = new CompletableFuture<>();

    Recorder(long startNanos) {
      this.startNanos = startNanos;
    }

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
        if (status == 200) {
          parser.feed(item);
        } else if (errorBody.length() < ERROR_BODY_LIMIT) {
          errorBody.append(StandardCharsets.UTF_8.decode(item));
        }
      }
    }

    private void onEvent(String event) {
      if (!event.startsWith("data:")) {
        return; // a comment or another field: not a chunk
      }
      if (firstEventNanos < 0) {
        firstEventNanos = arrival;
      } else {
        gaps.add(arrival - lastEventNanos);
      }
      lastEventNanos = arrival;
      if (event.substring(5).strip().equals("[DONE]")) {
        done = true;
      } else {
        chunks++;
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

    /** Why the stream does not count, or {@code null} when it is a complete stream. */
    String validate(int statusCode) {
      if (statusCode != 200) {
        String text = errorBody.toString().strip();
        if (text.length() > ERROR_BODY_LIMIT) {
          text = text.substring(0, ERROR_BODY_LIMIT) + "...";
        }
        return "HTTP " + statusCode + ": " + text;
      }
      if (!done) {
        return "stream ended without data: [DONE] after " + chunks + " chunks";
      }
      return null;
    }
  }

  private static String jsonString(String value) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        default -> {
          if (c < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  private static long micros(long nanos) {
    return Math.round(nanos / 1e3);
  }

  private static double millis(long nanos) {
    return nanos / 1e6;
  }
}
