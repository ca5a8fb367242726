package dev.gantry.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Measures the platform's share of a cold start against a live Gantry: creates a {@code sim}
 * deployment at zero workers with {@code concurrency} 1, sends it a burst of N requests at once (so
 * N workers start together), and once every worker got its first request, prints per worker the
 * steps of its {@code cold_start} (decision → process → healthy → first request), the engine's own
 * boot (from the simulator's {@code gantry-sim boot:} line in the worker's log, read from the data
 * dir on this host) and the platform's share: total minus the engine's boot. Run with {@code
 * --help}.
 */
public final class ColdStartBench {

  static final String USAGE =
      """
      Usage: ./gantry cold-start [options]
             (java -cp gantry-bench.jar dev.gantry.bench.ColdStartBench ...)

      Creates a sim deployment (min_workers 0, max_workers N, concurrency 1), sends N requests at
      once so that N workers start together, and prints per worker its cold start: provision
      (decision -> engine process started), boot (-> healthy), first request (-> first request
      routed to it), total, the engine's own boot (sim process start -> ready, from the worker's
      log) and the platform's share (total - engine boot), then p50/max over all rounds. Each
      round uses a new deployment, deleted at its end. Gantry must run on this host (the
      workers' logs are read from its data dir).

        --url URL              Gantry's base URL (default http://localhost:8080)
        --key KEY              API key (default: $GANTRY_API_KEY, else $GANTRY_KEY)
        --workers N            workers started at once per round (default 4)
        --rounds R             rounds, each on a new deployment (default 3)
        --startup-seconds S    the sim's simulated model load (default 1)
        --hold-seconds S       how long each request holds its worker, so that each of the N
                               requests gets a worker of its own (default 8)
        --data-dir DIR         Gantry's data dir (default /var/lib/gantry for root, else
                               ~/.gantry)
        --timeout-seconds S    give up on a round after S (default 120)
        --help                 print this help

      The last line is COLD_START_RESULT followed by the figures as one JSON object.
      Exit status: 0 when every round ran, 1 when one could not, 2 on bad arguments.
      """;

  static final Pattern BOOT =
      Pattern.compile(
          "gantry-sim boot: process_started_at=(\\S+) listening_at=(\\S+) ready_at=(\\S+)");

  private static final int INTER_TOKEN_MS = 20;

  private ColdStartBench() {}

  /** The command-line options. */
  record Options(
      URI url,
      String key,
      int workers,
      int rounds,
      double startupSeconds,
      double holdSeconds,
      Path dataDir,
      double timeoutSeconds) {

    /** Parses the arguments; {@code null} means {@code --help}. */
    static Options parse(String[] args, Map<String, String> env) {
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
      String url = values.getOrDefault("url", "http://localhost:8080");
      values.remove("url");
      String key = values.remove("key");
      if (key == null) {
        key = env.getOrDefault("GANTRY_API_KEY", env.get("GANTRY_KEY"));
      }
      if (key == null || key.isBlank()) {
        throw new IllegalArgumentException("no API key: pass --key or set GANTRY_API_KEY");
      }
      String dataDir = values.remove("data-dir");
      var options =
          new Options(
              URI.create(url.replaceAll("/+$", "") + "/"),
              key,
              (int) number(values, "workers", 4),
              (int) number(values, "rounds", 3),
              number(values, "startup-seconds", 1),
              number(values, "hold-seconds", 8),
              dataDir != null ? Path.of(dataDir) : defaultDataDir(env),
              number(values, "timeout-seconds", 120));
      if (!values.isEmpty()) {
        throw new IllegalArgumentException("unknown option(s): --" + values.keySet());
      }
      if (options.workers < 1 || options.rounds < 1) {
        throw new IllegalArgumentException("--workers and --rounds must be >= 1");
      }
      if (options.startupSeconds < 0 || !(options.holdSeconds > 0)) {
        throw new IllegalArgumentException("--startup-seconds must be >= 0, --hold-seconds > 0");
      }
      if (!(options.timeoutSeconds > 0)) {
        throw new IllegalArgumentException("--timeout-seconds must be > 0");
      }
      return options;
    }

    private static Path defaultDataDir(Map<String, String> env) {
      if ("root".equals(System.getProperty("user.name"))) {
        return Path.of("/var/lib/gantry");
      }
      return Path.of(System.getProperty("user.home"), ".gantry");
    }

    private static double number(Map<String, String> values, String name, double fallback) {
      String value = values.remove(name);
      if (value == null) {
        return fallback;
      }
      try {
        return Double.parseDouble(value);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--" + name + " must be a number, got " + value);
      }
    }
  }

  /**
   * One worker's cold start, in milliseconds; {@code engineBootMs} is -1 (and {@code engineReadyAt}
   * null) when its log has no boot line.
   */
  record Sample(
      String worker,
      Instant decidedAt,
      Instant processStartedAt,
      Instant healthyAt,
      long provisionMs,
      long bootMs,
      long firstRequestMs,
      long totalMs,
      long engineBootMs,
      Instant engineReadyAt) {

    /** The platform's share: everything but the engine's own boot. */
    long platformMs() {
      return totalMs - engineBootMs;
    }

    /** From the engine's being ready to the worker's being recorded healthy; -1 when unknown. */
    long healthLagMs() {
      return engineReadyAt == null ? -1 : Duration.between(engineReadyAt, healthyAt).toMillis();
    }

    /**
     * Reads a worker of the workers listing, once its first request was routed, and its log.
     *
     * @throws IllegalArgumentException when its cold start is not complete
     */
    static Sample of(Map<String, Object> worker, String log) {
      if (!(worker.get("cold_start") instanceof Map<?, ?> raw)) {
        throw new IllegalArgumentException("the worker has no cold_start object");
      }
      String id = String.valueOf(worker.get("id"));
      Instant[] boot = engineBoot(log);
      return new Sample(
          id,
          instant(raw, "decided_at", id),
          instant(raw, "process_started_at", id),
          instant(raw, "healthy_at", id),
          millis(raw, "provision_ms", id),
          millis(raw, "boot_ms", id),
          millis(raw, "first_request_ms", id),
          millis(raw, "total_ms", id),
          boot == null ? -1 : Duration.between(boot[0], boot[1]).toMillis(),
          boot == null ? null : boot[1]);
    }

    private static Instant instant(Map<?, ?> coldStart, String field, String id) {
      Object value = coldStart.get(field);
      if (value == null) {
        throw new IllegalArgumentException(id + " has not reached " + field);
      }
      return Instant.parse(value.toString());
    }

    private static long millis(Map<?, ?> coldStart, String field, String id) {
      if (coldStart.get(field) instanceof Double d) {
        return d.longValue();
      }
      throw new IllegalArgumentException(id + " has no " + field);
    }
  }

  /** The engine's boot from its last boot line: ready minus process start, or -1. */
  static long engineBootMs(String log) {
    Instant[] boot = engineBoot(log);
    return boot == null ? -1 : Duration.between(boot[0], boot[1]).toMillis();
  }

  /** The process start and ready instants of the log's last boot line, or null. */
  private static Instant[] engineBoot(String log) {
    Matcher m = BOOT.matcher(log == null ? "" : log);
    Instant[] boot = null;
    while (m.find()) {
      boot = new Instant[] {Instant.parse(m.group(1)), Instant.parse(m.group(3))};
    }
    return boot;
  }

  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("cold-start: " + e.getMessage() + " (--help for usage)");
      System.exit(2);
      return;
    }
    if (options == null) {
      System.out.print(USAGE);
      return;
    }
    try {
      run(options, System.out);
    } catch (IOException | RuntimeException e) {
      System.err.println("cold-start: " + e.getMessage());
      System.exit(1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      System.exit(1);
    }
  }

  static void run(Options options, PrintStream out) throws IOException, InterruptedException {
    var http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    List<Sample> samples = new ArrayList<>();
    for (int round = 1; round <= options.rounds(); round++) {
      var round0 = round(http, options, round);
      print(out, round, round0);
      samples.addAll(round0);
    }
    summary(out, samples, options);
  }

  private static List<Sample> round(HttpClient http, Options o, int round)
      throws IOException, InterruptedException {
    String model = "cold-start-bench";
    int maxTokens = (int) Math.max(1, o.holdSeconds() * 1000 / INTER_TOKEN_MS);
    String create =
        """
        {"name": "cold-start-bench-%d", "model": "%s", "framework": "sim", "min_workers": 0,
         "max_workers": %d, "concurrency": 1, "idle_timeout_seconds": 60,
         "wait_time_seconds": %d,
         "framework_args": ["--startup-seconds=%s", "--ttft-ms=0", "--inter-token-ms=%d"]}
        """
            .formatted(
                round,
                model,
                o.workers(),
                (int) Math.min(3600, Math.ceil(o.timeoutSeconds())),
                String.format(Locale.ROOT, "%.3f", o.startupSeconds()),
                INTER_TOKEN_MS);
    Map<String, Object> created =
        Json.parseObject(call(http, o, "POST", "api/v1/deployments", create, 201));
    String id = String.valueOf(created.get("id"));
    Instant deadline = Instant.now().plusMillis((long) (o.timeoutSeconds() * 1000));
    try {
      while (!"running"
          .equals(
              Json.parseObject(call(http, o, "GET", "api/v1/deployments/" + id, null, 200))
                  .get("status"))) {
        waitOrGiveUp(deadline, "the deployment to run");
      }
      String body =
          """
          {"model": "%s", "messages": [{"role": "user", "content": "cold start"}],
           "max_tokens": %d}
          """
              .formatted(model, maxTokens);
      List<CompletableFuture<Integer>> answers = new ArrayList<>();
      try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < o.workers(); i++) {
          answers.add(
              CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return http.send(
                              request(o, "POST", "openai/" + id + "/v1/chat/completions", body)
                                  .timeout(Duration.ofMillis((long) (o.timeoutSeconds() * 1000)))
                                  .build(),
                              HttpResponse.BodyHandlers.discarding())
                          .statusCode();
                    } catch (IOException e) {
                      return -1;
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                      return -1;
                    }
                  },
                  threads));
        }
        List<Map<String, Object>> routed;
        while (true) {
          routed = routedWorkers(http, o, id);
          if (routed.size() >= o.workers()) {
            break;
          }
          waitOrGiveUp(deadline, o.workers() + " workers to get their first request");
        }
        for (var answer : answers) {
          int status = answer.join();
          if (status != 200) {
            throw new IOException("a request of the burst answered " + status);
          }
        }
        List<Sample> samples = new ArrayList<>();
        for (var w : routed) {
          Path log = o.dataDir().resolve("logs/workers/" + w.get("id") + ".log");
          samples.add(Sample.of(w, Files.exists(log) ? Files.readString(log) : ""));
        }
        return samples;
      }
    } finally {
      try {
        call(http, o, "DELETE", "api/v1/deployments/" + id, null, 202);
      } catch (IOException e) {
        System.err.println("cold-start: could not delete " + id + ": " + e.getMessage());
      }
    }
  }

  private static List<Map<String, Object>> routedWorkers(HttpClient http, Options o, String id)
      throws IOException, InterruptedException {
    List<Map<String, Object>> routed = new ArrayList<>();
    if (Json.parse(call(http, o, "GET", "api/v1/deployments/" + id + "/workers", null, 200))
        instanceof List<?> listing) {
      for (Object entry : listing) {
        if (entry instanceof Map<?, ?> raw
            && raw.get("cold_start") instanceof Map<?, ?> cold
            && cold.get("first_routed_at") != null) {
          @SuppressWarnings("unchecked")
          Map<String, Object> w = (Map<String, Object>) raw;
          routed.add(w);
        }
      }
    }
    return routed;
  }

  private static void waitOrGiveUp(Instant deadline, String what)
      throws IOException, InterruptedException {
    if (Instant.now().isAfter(deadline)) {
      throw new IOException("gave up waiting for " + what);
    }
    Thread.sleep(100);
  }

  private static HttpRequest.Builder request(Options o, String method, String path, String body) {
    var builder =
        HttpRequest.newBuilder(o.url().resolve(path))
            .header("Authorization", "Bearer " + o.key())
            .header("Content-Type", "application/json");
    return body == null
        ? builder.method(method, HttpRequest.BodyPublishers.noBody())
        : builder.method(method, HttpRequest.BodyPublishers.ofString(body));
  }

  private static String call(
      HttpClient http, Options o, String method, String path, String body, int expected)
      throws IOException, InterruptedException {
    var response =
        http.send(
            request(o, method, path, body).timeout(Duration.ofSeconds(30)).build(),
            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    if (response.statusCode() != expected) {
      throw new IOException(
          method
              + " /"
              + path
              + " answered "
              + response.statusCode()
              + ": "
              + Json.abbreviate(response.body().strip()));
    }
    return response.body();
  }

  private static void print(PrintStream out, int round, List<Sample> samples) {
    out.printf(
        Locale.ROOT,
        "round %d%n%-34s %9s %8s %13s %8s %11s %10s %11s%n",
        round,
        "worker",
        "provision",
        "boot",
        "first_request",
        "total",
        "engine_boot",
        "health_lag",
        "platform");
    for (Sample s : samples) {
      out.printf(
          Locale.ROOT,
          "%-34s %9d %8d %13d %8d %11s %10s %11s%n",
          s.worker(),
          s.provisionMs(),
          s.bootMs(),
          s.firstRequestMs(),
          s.totalMs(),
          s.engineBootMs() < 0 ? "?" : Long.toString(s.engineBootMs()),
          s.engineBootMs() < 0 ? "?" : Long.toString(s.healthLagMs()),
          s.engineBootMs() < 0 ? "?" : Long.toString(s.platformMs()));
    }
    out.printf(
        Locale.ROOT,
        "  decisions spread over %d ms, engine processes started over %d ms%n",
        spreadMs(samples.stream().map(Sample::decidedAt).toList()),
        spreadMs(samples.stream().map(Sample::processStartedAt).toList()));
  }

  static long spreadMs(List<Instant> instants) {
    Instant min = instants.stream().min(Instant::compareTo).orElse(Instant.EPOCH);
    Instant max = instants.stream().max(Instant::compareTo).orElse(Instant.EPOCH);
    return Duration.between(min, max).toMillis();
  }

  /** p50 and max of each step over every sample, and the result line. */
  static void summary(PrintStream out, List<Sample> samples, Options o) {
    Map<String, Samples> columns = new LinkedHashMap<>();
    for (String name :
        List.of(
            "provision",
            "boot",
            "first_request",
            "total",
            "engine_boot",
            "health_lag",
            "platform")) {
      columns.put(name, new Samples());
    }
    for (Sample s : samples) {
      columns.get("provision").add(s.provisionMs());
      columns.get("boot").add(s.bootMs());
      columns.get("first_request").add(s.firstRequestMs());
      columns.get("total").add(s.totalMs());
      if (s.engineBootMs() >= 0) {
        columns.get("engine_boot").add(s.engineBootMs());
        columns.get("health_lag").add(s.healthLagMs());
        columns.get("platform").add(s.platformMs());
      }
    }
    out.printf(
        Locale.ROOT,
        "%d workers (%d rounds of %d started at once, sim --startup-seconds=%s), ms:%n",
        samples.size(),
        o.rounds(),
        o.workers(),
        o.startupSeconds());
    var json = new StringBuilder("{\"workers\":" + samples.size());
    for (var column : columns.entrySet()) {
      Samples values = column.getValue();
      if (values.size() == 0) {
        out.printf(Locale.ROOT, "  %-14s (no samples)%n", column.getKey());
        continue;
      }
      long p50 = values.percentile(50);
      long max = values.max();
      out.printf(Locale.ROOT, "  %-14s p50 %6d   max %6d%n", column.getKey(), p50, max);
      json.append(",\"")
          .append(column.getKey())
          .append("\":{\"p50\":")
          .append(p50)
          .append(",\"max\":")
          .append(max)
          .append('}');
    }
    out.println("COLD_START_RESULT " + json.append('}'));
  }
}
