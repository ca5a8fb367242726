package dev.gantry.infra.config;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Gantry's typed settings, bound from {@code gantry.*} properties or their environment variables.
 *
 * @param dataDir where the embedded database, secrets key, storage and logs live
 * @param roles which roles this process plays: {@code gateway}, {@code orchestrator}, or both
 * @param publicUrl base URL users reach the gateway on; derived from the request when empty
 * @param temporal how to reach Temporal
 * @param secrets how env values are encrypted at rest
 * @param gpuCatalog GPU types users may ask for, with memory and hourly price
 * @param limits bounds on user input beyond the API's validation rules
 * @param billing prices that are not per GPU
 * @param runtime where and how workers' engines run
 * @param gateway the inference data plane: limits, queues, timeouts
 * @param jobs async requests: retention, limits
 * @param models where model weights are downloaded from, and how
 */
@Validated
@ConfigurationProperties("gantry")
public record GantryProperties(
    @NotNull Path dataDir,
    @DefaultValue({"gateway", "orchestrator"}) @NotEmpty Set<String> roles,
    String publicUrl,
    @Valid @DefaultValue Temporal temporal,
    @Valid @DefaultValue Secrets secrets,
    @Valid List<GpuType> gpuCatalog,
    @Valid @DefaultValue Limits limits,
    @Valid @DefaultValue Billing billing,
    @Valid @DefaultValue Runtime runtime,
    @Valid @DefaultValue Gateway gateway,
    @Valid @DefaultValue Jobs jobs,
    @Valid @DefaultValue Models models) {

  public static final String ROLE_ORCHESTRATOR = "orchestrator";

  public GantryProperties {
    roles = roles.stream().map(r -> r.trim().toLowerCase(Locale.ROOT)).collect(toSet());
    gpuCatalog = gpuCatalog == null || gpuCatalog.isEmpty() ? GpuType.DEFAULTS : gpuCatalog;
  }

  private static java.util.stream.Collector<String, ?, Set<String>> toSet() {
    return java.util.stream.Collectors.toUnmodifiableSet();
  }

  public boolean hasRole(String role) {
    return roles.contains(role);
  }

  /**
   * @param target host:port of an external Temporal frontend; when set, no embedded server starts
   * @param embeddedPort port of the embedded Temporal dev server
   * @param namespace Temporal namespace
   */
  public record Temporal(
      String target,
      @DefaultValue("7233") @Min(0) @Max(65535) int embeddedPort,
      @DefaultValue("default") String namespace) {}

  /**
   * @param key base64 AES-256 key for env values; generated into the data dir when empty
   */
  public record Secrets(String key) {}

  /**
   * @param name the type users put in {@code gpu.type}
   * @param memoryGb memory per GPU
   * @param hourlyUsd price per GPU-hour
   */
  public record GpuType(
      @NotEmpty String name, @Positive int memoryGb, @NotNull BigDecimal hourlyUsd) {

    static final List<GpuType> DEFAULTS =
        List.of(
            new GpuType("H200", 141, new BigDecimal("3.80")),
            new GpuType("H100", 80, new BigDecimal("2.99")),
            new GpuType("A100-80GB", 80, new BigDecimal("1.89")),
            new GpuType("A100-40GB", 40, new BigDecimal("1.29")),
            new GpuType("L40S", 48, new BigDecimal("0.99")),
            new GpuType("L4", 24, new BigDecimal("0.49")),
            new GpuType("A10G", 24, new BigDecimal("0.75")),
            new GpuType("RTX4090", 24, new BigDecimal("0.59")));
  }

  /**
   * @param maxWorkers highest {@code max_workers} a deployment may ask for
   * @param maxConcurrency highest {@code concurrency} per worker
   * @param maxGpuCount highest {@code gpu.count} per worker
   * @param maxStorageGb largest {@code storage_gb}
   * @param maxIdleTimeoutSeconds longest {@code idle_timeout_seconds}
   * @param maxWaitTimeSeconds longest {@code wait_time_seconds}
   * @param defaultMaxTokensLimit the most tokens one inference request may ask to generate on a
   *     deployment without {@code max_tokens_limit}; also what a request without {@code max_tokens}
   *     is given
   * @param maxMaxTokensLimit highest {@code max_tokens_limit} a deployment may set
   * @param defaultNLimit the most choices ({@code n}, {@code best_of}) one inference request may
   *     ask for on a deployment without {@code n_limit}
   * @param maxNLimit highest {@code n_limit} a deployment may set
   */
  public record Limits(
      @DefaultValue("64") @Positive int maxWorkers,
      @DefaultValue("1024") @Positive int maxConcurrency,
      @DefaultValue("8") @Positive int maxGpuCount,
      @DefaultValue("10000") @Positive int maxStorageGb,
      @DefaultValue("86400") @Positive int maxIdleTimeoutSeconds,
      @DefaultValue("3600") @Positive int maxWaitTimeSeconds,
      @DefaultValue("16384") @Positive int defaultMaxTokensLimit,
      @DefaultValue("1048576") @Positive int maxMaxTokensLimit,
      @DefaultValue("4") @Positive int defaultNLimit,
      @DefaultValue("128") @Positive int maxNLimit) {

    public Limits {
      if (defaultMaxTokensLimit > maxMaxTokensLimit || defaultNLimit > maxNLimit) {
        throw new IllegalArgumentException(
            "gantry.limits: default-max-tokens-limit and default-n-limit must not exceed"
                + " max-max-tokens-limit and max-n-limit");
      }
    }
  }

  /**
   * @param storageGbMonthUsd price of one GB of deployment storage for a month (730 hours)
   */
  public record Billing(@DefaultValue("0.10") @NotNull BigDecimal storageGbMonthUsd) {}

  /**
   * @param local the local runtime: engines as child processes of this host
   */
  public record Runtime(@Valid @DefaultValue Local local) {}

  /**
   * @param gpus GPU types and counts on this host; none by default (no real GPU is assumed)
   * @param virtualSlots slots for {@code sim} workers, which need no GPU; one per worker
   * @param simStartTimeout how long a {@code sim} engine may take to become healthy
   * @param engineStartTimeout how long a real engine (vLLM, SGLang, Ollama) may take to become
   *     healthy; loading weights onto a GPU takes minutes
   * @param drainTimeout how long a draining worker waits for its in-flight requests
   * @param stopGrace time between SIGTERM and SIGKILL
   * @param logMaxBytes size at which a worker's log file is rotated (one older file is kept)
   * @param simCommand command that starts the simulator, before its flags; derived from this JVM
   *     when empty
   * @param simJvmOptions JVM options for {@code sim} workers
   */
  public record Local(
      @Valid List<GpuSlot> gpus,
      @DefaultValue("16") @Min(0) int virtualSlots,
      @DefaultValue("60s") @NotNull Duration simStartTimeout,
      @DefaultValue("30m") @NotNull Duration engineStartTimeout,
      @DefaultValue("30s") @NotNull Duration drainTimeout,
      @DefaultValue("10s") @NotNull Duration stopGrace,
      @DefaultValue("10485760") @Positive long logMaxBytes,
      List<String> simCommand,
      @DefaultValue({"-XX:+UseSerialGC", "-Xmx192m", "-XX:TieredStopAtLevel=1", "-Xshare:auto"})
          List<String> simJvmOptions) {

    public Local {
      gpus = gpus == null ? List.of() : List.copyOf(gpus);
      simCommand = simCommand == null ? List.of() : List.copyOf(simCommand);
      simJvmOptions = simJvmOptions == null ? List.of() : List.copyOf(simJvmOptions);
    }
  }

  /**
   * @param type a GPU type of the catalog
   * @param count how many of them this host has
   */
  public record GpuSlot(@NotEmpty String type, @Min(0) int count) {}

  /**
   * @param maxBodyBytes largest inference request body; larger ones are answered 413
   * @param maxQueue requests that may wait per deployment for a free worker; more are answered 429
   * @param routeRefresh how often the routing table re-reads running deployments and workers
   * @param demandReportInterval how often a deployment with waiting requests reports its demand
   * @param connectTimeout how long connecting to a worker may take before it counts as unreachable
   * @param responseTimeout longest silence from a worker while it answers (504 before the response
   *     started)
   * @param unreachableCooldown how long a worker that refused a connection gets no new requests
   * @param requestHeaderTimeout longest time from the first byte of a request (or the connection
   *     opening) to the end of its head; a slower client's connection is closed
   * @param requestBodyTimeout longest time from a request's head to the end of its body
   * @param keepAliveTimeout how long a connection may stay open with no request on it
   * @param shutdownDrain how long a stopping gateway waits for the inference requests under way
   *     (new ones get 503); kept well under the 30 s a platform may take to exit
   */
  public record Gateway(
      @DefaultValue("8388608") @Positive long maxBodyBytes,
      @DefaultValue("256") @Min(0) int maxQueue,
      @DefaultValue("500ms") @NotNull Duration routeRefresh,
      @DefaultValue("250ms") @NotNull Duration demandReportInterval,
      @DefaultValue("2s") @NotNull Duration connectTimeout,
      @DefaultValue("10m") @NotNull Duration responseTimeout,
      @DefaultValue("5s") @NotNull Duration unreachableCooldown,
      @DefaultValue("10s") @NotNull Duration requestHeaderTimeout,
      @DefaultValue("60s") @NotNull Duration requestBodyTimeout,
      @DefaultValue("5m") @NotNull Duration keepAliveTimeout,
      @DefaultValue("10s") @NotNull Duration shutdownDrain) {

    public Gateway {
      for (Duration d :
          new Duration[] {requestHeaderTimeout, requestBodyTimeout, keepAliveTimeout}) {
        if (d != null && (d.isNegative() || d.isZero())) {
          throw new IllegalArgumentException(
              "gantry.gateway request-header-timeout, request-body-timeout and keep-alive-timeout"
                  + " must be positive");
        }
      }
    }
  }

  /**
   * @param retention how long a finished job's result (or error) is kept; then its id answers 404
   * @param timeout longest time from submit to the end of a job, waiting included; a job still
   *     waiting for a worker then fails as a synchronous request would (504 or 408)
   * @param maxRunning jobs one gateway runs at once (each waits for or holds a worker slot)
   * @param maxResultBytes largest worker answer kept for a job; a larger one fails the job (502)
   * @param sweepInterval how often expired jobs are removed, and accepted jobs whose workflow did
   *     not start (a crash or a Temporal outage at submit) are started
   */
  public record Jobs(
      @DefaultValue("30m") @NotNull Duration retention,
      @DefaultValue("1h") @NotNull Duration timeout,
      @DefaultValue("1000") @Positive int maxRunning,
      @DefaultValue("16777216") @Positive long maxResultBytes,
      @DefaultValue("30s") @NotNull Duration sweepInterval) {}

  /**
   * @param hfEndpoint the Hugging Face Hub (or a mirror); a deployment's own {@code HF_ENDPOINT}
   *     env value wins
   * @param ollamaRegistry the Ollama registry that {@code ollama} models are pulled from
   * @param parallelDownloads files downloaded at the same time for one deployment
   * @param connectTimeout how long connecting to the Hub, the registry or their CDN may take
   * @param stallTimeout how long a download may go without receiving a byte before it is aborted
   *     and retried
   * @param fileRetries times one file is resumed within an attempt after a network error, before
   *     the attempt fails and the workflow retries it with backoff
   * @param progressInterval how often download progress is reported (heartbeat and database)
   * @param minFreeDiskBytes free disk the data volume keeps beyond what a download needs
   */
  public record Models(
      @DefaultValue("https://huggingface.co") @NotEmpty String hfEndpoint,
      @DefaultValue("https://registry.ollama.ai") @NotEmpty String ollamaRegistry,
      @DefaultValue("4") @Min(1) @Max(64) int parallelDownloads,
      @DefaultValue("10s") @NotNull Duration connectTimeout,
      @DefaultValue("2m") @NotNull Duration stallTimeout,
      @DefaultValue("2") @Min(0) int fileRetries,
      @DefaultValue("1s") @NotNull Duration progressInterval,
      @DefaultValue("67108864") @Min(0) long minFreeDiskBytes) {}
}
