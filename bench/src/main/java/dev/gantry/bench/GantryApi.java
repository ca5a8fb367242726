package dev.gantry.bench;

import dev.gantry.autoscaler.ScalingPolicy;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The few calls of Gantry's management API ({@code /api/v1}) the replay tool makes. */
final class GantryApi {

  /**
   * The deployment settings a replay depends on.
   *
   * @param id the deployment's id
   * @param model its model name (the {@code model} field of each request)
   * @param status its status ({@code running} when it serves requests)
   * @param minWorkers workers that always run
   * @param maxWorkers most workers at once
   * @param concurrency requests a worker serves at once
   * @param idleTimeoutSeconds idle time after which an on-demand worker is reaped
   * @param maxTokensLimit highest {@code max_tokens} a request may ask for (0 when not shown)
   * @param waitTimeSeconds how long a request may wait for a slot (60, the default, when not shown)
   * @param autoscaling the {@code autoscaling} object in force (defaults for what is not shown)
   */
  record Deployment(
      String id,
      String model,
      String status,
      int minWorkers,
      int maxWorkers,
      int concurrency,
      int idleTimeoutSeconds,
      int maxTokensLimit,
      int waitTimeSeconds,
      Autoscaling autoscaling) {

    /** The settings without the wait time and autoscaling object (defaults for both). */
    Deployment(
        String id,
        String model,
        String status,
        int minWorkers,
        int maxWorkers,
        int concurrency,
        int idleTimeoutSeconds,
        int maxTokensLimit) {
      this(
          id,
          model,
          status,
          minWorkers,
          maxWorkers,
          concurrency,
          idleTimeoutSeconds,
          maxTokensLimit,
          DEFAULT_WAIT_TIME_SECONDS,
          Autoscaling.DEFAULTS);
    }

    static Deployment from(Map<String, Object> json) {
      return new Deployment(
          text(json, "id"),
          text(json, "model"),
          text(json, "status"),
          whole(json, "min_workers"),
          whole(json, "max_workers"),
          whole(json, "concurrency"),
          whole(json, "idle_timeout_seconds"),
          json.get("max_tokens_limit") == null ? 0 : whole(json, "max_tokens_limit"),
          json.get("wait_time_seconds") == null
              ? DEFAULT_WAIT_TIME_SECONDS
              : whole(json, "wait_time_seconds"),
          Autoscaling.from(json.get("autoscaling")));
    }

    /** The deployment's scaling policy, as its workflow runs it. */
    ScalingPolicy policy() {
      return new ScalingPolicy(
          minWorkers,
          maxWorkers,
          concurrency,
          autoscaling.targetUtilization(),
          autoscaling.scaleDownDelayMillis(),
          autoscaling.warmBuffer(),
          autoscaling.queueDelayMillis());
    }
  }

  /** The API's default {@code wait_time_seconds}. */
  static final int DEFAULT_WAIT_TIME_SECONDS = 60;

  /**
   * The deployment view's {@code autoscaling} object.
   *
   * @param targetUtilization {@code target_utilization}
   * @param scaleDownDelayMillis {@code scale_down_delay_seconds} in milliseconds, {@link
   *     ScalingPolicy#AUTO_DELAY} when {@code null} (it follows the cold start)
   * @param warmBuffer {@code warm_buffer}
   * @param queueDelayMillis {@code queue_delay_ms}
   */
  record Autoscaling(
      double targetUtilization, long scaleDownDelayMillis, int warmBuffer, long queueDelayMillis) {

    static final Autoscaling DEFAULTS =
        new Autoscaling(
            ScalingPolicy.DEFAULT_TARGET_UTILIZATION,
            ScalingPolicy.DEFAULT_SCALE_DOWN_DELAY_MILLIS,
            ScalingPolicy.DEFAULT_WARM_BUFFER,
            ScalingPolicy.DEFAULT_QUEUE_DELAY_MILLIS);

    /** Reads the object; a missing object or field (an older Gantry) takes the default. */
    static Autoscaling from(Object value) {
      if (value == null) {
        return DEFAULTS;
      }
      if (!(value instanceof Map<?, ?> raw)) {
        throw new IllegalArgumentException("\"autoscaling\" is not an object");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> json = (Map<String, Object>) raw;
      return new Autoscaling(
          json.get("target_utilization") == null
              ? DEFAULTS.targetUtilization()
              : number(json, "target_utilization"),
          // Present and null means "auto", as does absent.
          json.get("scale_down_delay_seconds") == null
              ? ScalingPolicy.AUTO_DELAY
              : Math.round(number(json, "scale_down_delay_seconds") * 1000),
          json.get("warm_buffer") == null ? DEFAULTS.warmBuffer() : whole(json, "warm_buffer"),
          json.get("queue_delay_ms") == null
              ? DEFAULTS.queueDelayMillis()
              : Math.round(number(json, "queue_delay_ms")));
    }
  }

  /**
   * One entry of the workers listing.
   *
   * @param id the worker's id
   * @param status {@code provisioning}, {@code healthy}, {@code draining}, {@code failed} or {@code
   *     stopped}
   * @param createdAt when it was created (its cost starts)
   * @param healthyAt when its engine first answered its health check, {@code null} before that
   * @param stoppedAt when it stopped or failed, {@code null} while it is current
   * @param decidedAt when its deployment decided to start it ({@code cold_start.decided_at}), its
   *     {@code createdAt} when the listing does not say
   */
  record Worker(
      String id,
      String status,
      Instant createdAt,
      Instant healthyAt,
      Instant stoppedAt,
      Instant decidedAt) {

    /** A worker whose decision time is not known: taken as its creation. */
    Worker(String id, String status, Instant createdAt, Instant healthyAt, Instant stoppedAt) {
      this(id, status, createdAt, healthyAt, stoppedAt, createdAt);
    }

    boolean current() {
      return stoppedAt == null;
    }

    static List<Worker> fromListing(List<Object> listing) {
      List<Worker> workers = new ArrayList<>(listing.size());
      for (Object entry : listing) {
        if (!(entry instanceof Map<?, ?> raw)) {
          throw new IllegalArgumentException("a worker entry is not an object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> json = (Map<String, Object>) raw;
        Instant created = Instant.parse(text(json, "created_at"));
        Instant decided = null;
        if (json.get("cold_start") instanceof Map<?, ?> coldStart
            && coldStart.get("decided_at") != null) {
          decided = Instant.parse(coldStart.get("decided_at").toString());
        }
        workers.add(
            new Worker(
                text(json, "id"),
                text(json, "status"),
                created,
                instant(json, "healthy_at"),
                instant(json, "stopped_at"),
                decided == null || decided.isAfter(created) ? created : decided));
      }
      return workers;
    }
  }

  /**
   * Worker use over a window, from the listing's own timestamps.
   *
   * @param started workers that were not in the listing before the window
   * @param workerSeconds the time of every worker inside the window, summed
   * @param stillCurrent workers that had not stopped at the end of the window (counted up to it)
   * @param coldStartMaxSeconds the longest time from created to healthy of the workers started (0
   *     when none became healthy)
   * @param coldStartMeanSeconds the mean of the same
   */
  record Usage(
      int started,
      double workerSeconds,
      int stillCurrent,
      double coldStartMaxSeconds,
      double coldStartMeanSeconds) {

    /**
     * @param before ids of the workers listed before the window began
     * @param workers the workers listed during and after the window (latest entry per id)
     */
    static Usage of(Set<String> before, Collection<Worker> workers, Instant from, Instant to) {
      int started = 0;
      int current = 0;
      long nanos = 0;
      int healthy = 0;
      long coldStartNanos = 0;
      long coldStartMax = 0;
      for (Worker w : workers) {
        if (!before.contains(w.id())) {
          started++;
          if (w.healthyAt() != null) {
            long cold = Duration.between(w.createdAt(), w.healthyAt()).toNanos();
            healthy++;
            coldStartNanos += cold;
            coldStartMax = Math.max(coldStartMax, cold);
          }
        }
        Instant end = w.stoppedAt() == null || w.stoppedAt().isAfter(to) ? to : w.stoppedAt();
        Instant start = w.createdAt().isBefore(from) ? from : w.createdAt();
        if (end.isAfter(start)) {
          nanos += Duration.between(start, end).toNanos();
        }
        if (w.current()) {
          current++;
        }
      }
      return new Usage(
          started,
          nanos / 1e9,
          current,
          coldStartMax / 1e9,
          healthy == 0 ? 0 : coldStartNanos / 1e9 / healthy);
    }
  }

  private final HttpClient client;
  private final URI base;
  private final String key;

  GantryApi(HttpClient client, URI base, String key) {
    this.client = client;
    this.base = base;
    this.key = key;
  }

  Deployment deployment(String id) throws IOException, InterruptedException {
    if (Json.parse(get("/api/v1/deployments/" + encode(id))) instanceof Map<?, ?> map) {
      @SuppressWarnings("unchecked")
      Map<String, Object> json = (Map<String, Object>) map;
      return Deployment.from(json);
    }
    throw new IOException("the deployment answer is not a JSON object");
  }

  List<Worker> workers(String id) throws IOException, InterruptedException {
    if (Json.parse(get("/api/v1/deployments/" + encode(id) + "/workers")) instanceof List<?> l) {
      @SuppressWarnings("unchecked")
      List<Object> listing = (List<Object>) l;
      return Worker.fromListing(listing);
    }
    throw new IOException("the workers answer is not a JSON array");
  }

  private String get(String path) throws IOException, InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(base.resolve(path))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Bearer " + key)
            .header("Accept", "application/json")
            .GET()
            .build();
    HttpResponse<String> response;
    try {
      response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      // A refused connection has no message of its own; say what could not be reached.
      throw new IOException(
          "GET "
              + request.uri()
              + " failed: "
              + e.getClass().getSimpleName()
              + (e.getMessage() == null ? "" : ": " + e.getMessage()),
          e);
    }
    if (response.statusCode() != 200) {
      throw new IOException(
          "GET "
              + path
              + " answered "
              + response.statusCode()
              + ": "
              + Json.abbreviate(response.body().strip()));
    }
    return response.body();
  }

  private static String encode(String segment) {
    return URLEncoder.encode(segment, StandardCharsets.UTF_8);
  }

  private static String text(Map<String, Object> json, String field) {
    if (json.get(field) instanceof String s) {
      return s;
    }
    throw new IllegalArgumentException("missing or non-text \"" + field + "\"");
  }

  private static Instant instant(Map<String, Object> json, String field) {
    Object value = json.get(field);
    return value == null ? null : Instant.parse(value.toString());
  }

  private static double number(Map<String, Object> json, String field) {
    if (json.get(field) instanceof Double d && Double.isFinite(d)) {
      return d;
    }
    throw new IllegalArgumentException("missing or non-numeric \"" + field + "\"");
  }

  private static int whole(Map<String, Object> json, String field) {
    if (json.get(field) instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e9) {
      return d.intValue();
    }
    throw new IllegalArgumentException("missing or non-integer \"" + field + "\"");
  }
}
