package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.error.FieldError;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.billing.CostCalculator;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerInterval;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.usage.UsageRepository;
import io.swagger.v3.oas.annotations.media.Schema;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.springframework.stereotype.Service;

/**
 * Usage and cost over time, per deployment or per tenant: requests, tokens and latencies from the
 * usage records, worker-seconds and cost from the workers' billing intervals (written when workers
 * start and end), storage continuously. Cost per request splits each worker's cost in the period
 * among the requests it served, by their weight (time held times tokens).
 */
@ConditionalOnGatewayRole
@Service
public class UsageService {
  static final long DEFAULT_STEP_SECONDS = 3600;
  static final long MIN_STEP_SECONDS = 60;
  static final int MAX_BUCKETS = 1000;
  static final Duration DEFAULT_RANGE = Duration.ofHours(24);

  /** Latencies kept per bucket for its percentiles; more are sampled (reservoir), not kept. */
  static final int SAMPLES_PER_BUCKET = 10_000;

  /**
   * Latencies one report keeps over all its buckets: a report of 1000 busy buckets would otherwise
   * hold 20 million values (160 MB) per request, for any tenant that asks.
   */
  static final int SAMPLES_PER_REPORT = 200_000;

  /** The fewest kept per bucket, however many buckets a report has. */
  static final int MIN_SAMPLES_PER_BUCKET = 100;

  /** The key of workers without a GPU in worker_seconds: sim's virtual slots. */
  static final String VIRTUAL = "virtual";

  private final DeploymentRepository deployments;
  private final WorkerRepository workers;
  private final UsageRepository usage;
  private final CostCalculator costs;
  private final Clock clock;

  public UsageService(
      DeploymentRepository deployments,
      WorkerRepository workers,
      UsageRepository usage,
      CostCalculator costs,
      Clock clock) {
    this.deployments = deployments;
    this.workers = workers;
    this.usage = usage;
    this.costs = costs;
    this.clock = clock;
  }

  // ------------------------------------------------------------------ the answer's shapes

  @Schema(
      name = "RequestCounts",
      description =
          "Requests by outcome: ok (below 400), client_error (4xx but 429, and clients that left),"
              + " server_error (5xx but 503), refused (429 and 503: no capacity in time)")
  public record Requests(
      long ok,
      @JsonProperty("client_error") long clientError,
      @JsonProperty("server_error") long serverError,
      long refused) {}

  @Schema(name = "Percentiles", description = "Milliseconds; null without a request")
  @JsonInclude(JsonInclude.Include.ALWAYS)
  public record Percentiles(Long p50, Long p95, Long p99) {}

  @Schema(name = "UsageCost", description = "US dollars in the period, rounded to 6 decimals")
  public record Cost(BigDecimal workers, BigDecimal storage, BigDecimal total) {}

  @Schema(name = "UsageBucket")
  public record Bucket(
      @Schema(format = "date-time") String start,
      Requests requests,
      @JsonProperty("prompt_tokens") long promptTokens,
      @JsonProperty("completion_tokens") long completionTokens,
      @JsonProperty("ttft_ms") Percentiles ttftMs,
      @JsonProperty("latency_ms") Percentiles latencyMs,
      @JsonProperty("cold_starts") long coldStarts,
      @JsonProperty("worker_seconds")
          @Schema(description = "Seconds of workers by GPU type (virtual: sim's slots)")
          Map<String, Double> workerSeconds,
      @JsonProperty("cost_usd") Cost costUsd) {}

  @Schema(name = "UsageTotals")
  public record Totals(
      Requests requests,
      @JsonProperty("prompt_tokens") long promptTokens,
      @JsonProperty("completion_tokens") long completionTokens,
      @JsonProperty("ttft_ms") Percentiles ttftMs,
      @JsonProperty("latency_ms") Percentiles latencyMs,
      @JsonProperty("cold_starts") long coldStarts,
      @JsonProperty("worker_seconds") Map<String, Double> workerSeconds,
      @JsonProperty("cost_usd") Cost costUsd) {}

  @Schema(
      name = "CostPerRequest",
      description =
          "US dollars per request that reached a worker (docs/api.md \"Usage and cost\"); null"
              + " without one")
  @JsonInclude(JsonInclude.Include.ALWAYS)
  public record CostPerRequest(BigDecimal mean, BigDecimal p50, BigDecimal p95) {}

  @Schema(
      name = "DeploymentCost",
      requiredProperties = {"id", "name", "cost_usd"})
  public record DeploymentCost(
      String id, String name, @JsonProperty("cost_usd") BigDecimal costUsd) {}

  @Schema(
      name = "Usage",
      description = "Usage and cost per time bucket (docs/api.md \"Usage and cost\")",
      requiredProperties = {
        "from",
        "to",
        "step_seconds",
        "buckets",
        "totals",
        "cost_per_request_usd"
      })
  public record Report(
      @Schema(format = "date-time") String from,
      @Schema(format = "date-time") String to,
      @JsonProperty("step_seconds") long stepSeconds,
      List<Bucket> buckets,
      Totals totals,
      @JsonProperty("cost_per_request_usd") CostPerRequest costPerRequestUsd,
      @JsonInclude(JsonInclude.Include.NON_NULL)
          @Schema(description = "Tenant-wide reports only: each deployment's cost in the period")
          List<DeploymentCost> deployments) {}

  /** The period and step asked for, checked. */
  public record Range(Instant from, Instant to, long stepSeconds) {
    int buckets() {
      long seconds = Duration.between(from, to).toSeconds();
      return (int) Math.max(1, (seconds + stepSeconds - 1) / stepSeconds);
    }

    Instant start(int bucket) {
      return from.plusSeconds(bucket * stepSeconds);
    }

    Instant end(int bucket) {
      Instant end = start(bucket + 1);
      return end.isAfter(to) ? to : end;
    }

    int bucketOf(Instant t) {
      return (int) (Duration.between(from, t).toMillis() / 1000 / stepSeconds);
    }

    /** Parses {@code from}, {@code to} and {@code step}; every invalid one is named in one 400. */
    public static Range parse(String from, String to, String step, Instant now) {
      var errors = new ArrayList<FieldError>();
      Instant end = to == null ? now : instant("to", to, errors);
      Instant start =
          from == null
              ? (end == null ? null : end.minus(DEFAULT_RANGE))
              : instant("from", from, errors);
      long stepSeconds = DEFAULT_STEP_SECONDS;
      if (step != null) {
        try {
          stepSeconds = Long.parseLong(step.strip());
          if (stepSeconds < MIN_STEP_SECONDS) {
            errors.add(new FieldError("step", "must be at least " + MIN_STEP_SECONDS + " seconds"));
          }
        } catch (NumberFormatException e) {
          errors.add(new FieldError("step", "must be a whole number of seconds"));
        }
      }
      if (errors.isEmpty() && !start.isBefore(end)) {
        errors.add(new FieldError("from", "must be before to"));
      }
      if (errors.isEmpty()) {
        long seconds = Duration.between(start, end).toSeconds();
        if ((seconds + stepSeconds - 1) / stepSeconds > MAX_BUCKETS) {
          errors.add(
              new FieldError(
                  "step",
                  "gives more than "
                      + MAX_BUCKETS
                      + " buckets from from to to; make step larger or the period shorter"));
        }
      }
      if (!errors.isEmpty()) {
        throw ApiProblem.validation(errors);
      }
      return new Range(start, end, stepSeconds);
    }

    private static Instant instant(String field, String text, List<FieldError> errors) {
      try {
        return OffsetDateTime.parse(text.strip()).toInstant();
      } catch (DateTimeParseException e) {
        errors.add(new FieldError(field, "must be an ISO-8601 date-time with an offset"));
        return null;
      }
    }
  }

  // ------------------------------------------------------------------ use cases

  /** One deployment's usage and cost. */
  public Report deployment(Caller caller, String id, String from, String to, String step) {
    var range = Range.parse(from, to, step, clock.instant());
    var deployment =
        deployments
            .find(caller.tenantId(), id)
            .orElseThrow(() -> ApiProblem.notFound("Deployment " + id));
    return report(range, List.of(deployment), false);
  }

  /** The tenant's usage and cost, over every deployment it had in the period. */
  public Report tenant(Caller caller, String from, String to, String step) {
    var range = Range.parse(from, to, step, clock.instant());
    return report(
        range, deployments.listExistingDuring(caller.tenantId(), range.from(), range.to()), true);
  }

  // ------------------------------------------------------------------ the computation

  /** Sums of one bucket (or of the whole period). */
  private static final class Sums {
    long ok;
    long clientError;
    long serverError;
    long refused;
    long promptTokens;
    long completionTokens;
    long coldStarts;
    final Samples ttft;
    final Samples latency;
    final Map<String, Double> workerSeconds = new TreeMap<>();
    BigDecimal workerCost = BigDecimal.ZERO;
    BigDecimal storageCost = BigDecimal.ZERO;

    Sums(int samples) {
      ttft = new Samples(samples);
      latency = new Samples(samples);
    }

    void request(UsageRepository.Row r) {
      int s = r.status();
      if (s == 429 || s == 503) {
        refused++;
      } else if (s >= 500) {
        serverError++;
      } else if (s >= 400) {
        clientError++;
      } else {
        ok++;
      }
      promptTokens += r.promptTokens();
      completionTokens += r.completionTokens();
      if (r.workerId() != null) {
        // Only requests a worker served: a refusal's few milliseconds say nothing of latency.
        latency.add(r.durationMs());
      }
      if (r.ttftMs() != null) {
        ttft.add(r.ttftMs());
      }
    }

    Requests requests() {
      return new Requests(ok, clientError, serverError, refused);
    }

    Cost cost() {
      return new Cost(money(workerCost), money(storageCost), money(workerCost.add(storageCost)));
    }

    Map<String, Double> seconds() {
      var rounded = new TreeMap<String, Double>();
      workerSeconds.forEach((k, v) -> rounded.put(k, Math.round(v * 1000) / 1000.0));
      return rounded;
    }
  }

  private Report report(Range range, List<DeploymentRecord> owned, boolean tenantWide) {
    Instant now = clock.instant();
    int n = range.buckets();
    var buckets = new Sums[n];
    int perBucket =
        Math.max(MIN_SAMPLES_PER_BUCKET, Math.min(SAMPLES_PER_BUCKET, SAMPLES_PER_REPORT / n));
    for (int i = 0; i < n; i++) {
      buckets[i] = new Sums(perBucket);
    }
    var totals = new Sums(SAMPLES_PER_BUCKET);
    var ids = owned.stream().map(DeploymentRecord::id).toList();
    var perDeployment = new HashMap<String, BigDecimal>();

    // Storage, continuously while each deployment exists.
    for (DeploymentRecord d : owned) {
      Instant from = later(d.createdAt(), range.from());
      Instant to = earlier(earlier(costs.storageEnd(d, now), range.to()), now);
      for (int i = 0; i < n && from.isBefore(to); i++) {
        Instant a = later(range.start(i), from);
        Instant b = earlier(range.end(i), to);
        if (a.isBefore(b)) {
          BigDecimal c = costs.storage(d, a, b);
          buckets[i].storageCost = buckets[i].storageCost.add(c);
          perDeployment.merge(d.id(), c, BigDecimal::add);
        }
      }
    }

    // Workers, from their billing intervals.
    var workerCost = new HashMap<String, BigDecimal>();
    for (WorkerInterval w : workers.intervals(ids, range.from(), range.to())) {
      String type = w.gpuType() == null ? VIRTUAL : w.gpuType();
      Instant end = earlier(w.endedAt() == null ? now : w.endedAt(), range.to());
      if (!w.startedAt().isBefore(range.from()) && w.startedAt().isBefore(range.to())) {
        buckets[range.bucketOf(w.startedAt())].coldStarts++;
      }
      for (int i = 0; i < n; i++) {
        double seconds = w.secondsWithin(range.start(i), range.end(i), end);
        if (seconds <= 0) {
          continue;
        }
        buckets[i].workerSeconds.merge(type, seconds, Double::sum);
        Instant a = later(range.start(i), w.startedAt());
        BigDecimal c = costs.gpu(w, a, a.plusMillis((long) (seconds * 1000)));
        buckets[i].workerCost = buckets[i].workerCost.add(c);
        workerCost.merge(w.workerId(), c, BigDecimal::add);
        perDeployment.merge(w.deploymentId(), c, BigDecimal::add);
      }
    }

    // Requests: counted per bucket, and weighed per worker for the cost per request.
    var weights = new HashMap<String, Double>();
    usage.forEachRow(
        ids,
        range.from(),
        range.to(),
        r -> {
          buckets[range.bucketOf(r.startedAt())].request(r);
          if (r.workerId() != null) {
            weights.merge(r.workerId(), r.weight(), Double::sum);
          }
        });
    var perRequest = new Samples(SAMPLES_PER_BUCKET);
    var attributed = new double[] {0, 0};
    if (!weights.isEmpty()) {
      usage.forEachRow(
          ids,
          range.from(),
          range.to(),
          r -> {
            if (r.workerId() == null) {
              return;
            }
            double cost =
                workerCost.getOrDefault(r.workerId(), BigDecimal.ZERO).doubleValue()
                    * r.weight()
                    / weights.get(r.workerId());
            attributed[0] += cost;
            attributed[1]++;
            // Kept in micro-dollars, as the samples hold whole numbers.
            perRequest.add(Math.round(cost * 1_000_000));
          });
    }

    var answer = new ArrayList<Bucket>(n);
    for (int i = 0; i < n; i++) {
      Sums b = buckets[i];
      merge(totals, b);
      answer.add(
          new Bucket(
              range.start(i).toString(),
              b.requests(),
              b.promptTokens,
              b.completionTokens,
              b.ttft.percentiles(),
              b.latency.percentiles(),
              b.coldStarts,
              b.seconds(),
              b.cost()));
    }
    var total =
        new Totals(
            totals.requests(),
            totals.promptTokens,
            totals.completionTokens,
            totals.ttft.percentiles(),
            totals.latency.percentiles(),
            totals.coldStarts,
            totals.seconds(),
            totals.cost());
    CostPerRequest perRequestCost =
        attributed[1] == 0
            ? new CostPerRequest(null, null, null)
            : new CostPerRequest(
                money(BigDecimal.valueOf(attributed[0] / attributed[1])),
                micro(perRequest.percentile(50)),
                micro(perRequest.percentile(95)));
    List<DeploymentCost> byDeployment =
        tenantWide
            ? owned.stream()
                .map(
                    d ->
                        new DeploymentCost(
                            d.id(),
                            d.spec().name(),
                            money(perDeployment.getOrDefault(d.id(), BigDecimal.ZERO))))
                .toList()
            : null;
    return new Report(
        range.from().toString(),
        range.to().toString(),
        range.stepSeconds(),
        answer,
        total,
        perRequestCost,
        byDeployment);
  }

  private static void merge(Sums into, Sums b) {
    into.ok += b.ok;
    into.clientError += b.clientError;
    into.serverError += b.serverError;
    into.refused += b.refused;
    into.promptTokens += b.promptTokens;
    into.completionTokens += b.completionTokens;
    into.coldStarts += b.coldStarts;
    into.ttft.addAll(b.ttft);
    into.latency.addAll(b.latency);
    b.workerSeconds.forEach((k, v) -> into.workerSeconds.merge(k, v, Double::sum));
    into.workerCost = into.workerCost.add(b.workerCost);
    into.storageCost = into.storageCost.add(b.storageCost);
  }

  private static BigDecimal money(BigDecimal value) {
    return value.setScale(6, RoundingMode.HALF_UP);
  }

  private static BigDecimal micro(Long microDollars) {
    return microDollars == null
        ? null
        : BigDecimal.valueOf(microDollars).movePointLeft(6).setScale(6, RoundingMode.HALF_UP);
  }

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  private static Instant earlier(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }

  /**
   * Up to {@code capacity} values, a uniform sample of all added (reservoir sampling), so a busy
   * bucket's percentiles cost bounded memory.
   */
  static final class Samples {
    private final int capacity;
    private long[] values = new long[16];
    private int size;
    private long seen;
    private final SplittableRandom random = new SplittableRandom(42);

    Samples(int capacity) {
      this.capacity = capacity;
    }

    void add(long value) {
      seen++;
      if (size < capacity) {
        if (size == values.length) {
          values = Arrays.copyOf(values, Math.min(capacity, size * 2));
        }
        values[size++] = value;
        return;
      }
      long slot = random.nextLong(seen);
      if (slot < capacity) {
        values[(int) slot] = value;
      }
    }

    void addAll(Samples other) {
      for (int i = 0; i < other.size; i++) {
        add(other.values[i]);
      }
    }

    /** Nearest-rank percentile; null without a value. */
    Long percentile(int p) {
      if (size == 0) {
        return null;
      }
      long[] sorted = Arrays.copyOf(values, size);
      Arrays.sort(sorted);
      int rank = (int) Math.ceil(p / 100.0 * size);
      return sorted[Math.max(0, rank - 1)];
    }

    Percentiles percentiles() {
      return new Percentiles(percentile(50), percentile(95), percentile(99));
    }
  }
}
