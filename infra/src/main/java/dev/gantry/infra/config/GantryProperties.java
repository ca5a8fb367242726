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
 * @param observability what users see of their deployments: logs and usage reports
 * @param cluster how gateway replicas sharing one database divide workers' slots
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
    @Valid @DefaultValue Models models,
    @Valid @DefaultValue Observability observability,
    @Valid @DefaultValue Cluster cluster) {

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
   * @param maxDeploymentsPerTenant deployments one tenant may have that are not deleted; a create
   *     beyond it is refused (429) so one tenant cannot take every provisioning slot
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
      @DefaultValue("100") @Positive int maxDeploymentsPerTenant,
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
   * @param logFollowsPerDeployment live log follows ({@code follow=true}) one tenant may hold open
   *     on one deployment at once; more are answered 429
   */
  public record Observability(@DefaultValue("4") @Min(1) @Max(64) int logFollowsPerDeployment) {}

  /**
   * @param type where workers' engines run: {@code local} (child processes of this host) or {@code
   *     kubernetes} (Pods in a cluster)
   * @param local the local runtime: engines as child processes of this host; its start, drain,
   *     health-check and stop-grace timings apply to the kubernetes runtime too
   * @param kubernetes the kubernetes runtime: worker Pods, storage claims, model download Jobs
   */
  public record Runtime(
      @DefaultValue("local") @NotNull Type type,
      @Valid @DefaultValue Local local,
      @Valid @DefaultValue Kubernetes kubernetes) {

    /** The runtimes; the property takes the lower-case name. */
    public enum Type {
      LOCAL,
      KUBERNETES
    }
  }

  /**
   * The kubernetes runtime (see deploy/kubernetes). Objects are named after the deployment and
   * worker ids and carry the {@code gantry.dev/*} labels the sweeper goes by.
   *
   * @param namespace where Pods, claims, Jobs and Secrets are created; empty: the client's own (in
   *     a cluster, the namespace Gantry runs in)
   * @param images the engine image of each framework
   * @param gantryImage the Gantry image: runs the model download Jobs ({@code gantry.jar download})
   * @param simCommand how the {@code sim} image starts the simulator, before its flags
   * @param enginePort the port every engine listens on inside its Pod
   * @param gpuNodeLabel the node label whose value is the GPU type of the catalog (e.g. {@code
   *     H100}); a worker's Pod selects nodes by it
   * @param storageClass storage class of the deployments' claims; empty: the cluster's default
   * @param storageAccessMode access mode of the claims: every worker Pod mounts its deployment's
   *     claim, on whatever node it lands ({@code ReadWriteMany}), or on one node ({@code
   *     ReadWriteOnce})
   * @param memoryLimit memory limit (and request) of an engine container
   * @param simMemoryLimit memory limit (and request) of a {@code sim} engine container
   * @param downloadMemoryLimit memory limit (and request) of a model download Job
   * @param ephemeralStorageLimit ephemeral-storage limit of every container Gantry creates
   * @param runAsUser the uid containers run as (non-root; the restricted Pod Security Standard)
   * @param scheduleTimeout how long a worker Pod may wait for a node and an address before the
   *     start is given up ({@code Unschedulable} is acted on at once); at most {@link
   *     #MAX_SCHEDULE_TIMEOUT}, so a start ends within its activity's two minutes
   * @param readyTimeout how long a worker Pod may take to pass its readiness probe after it is
   *     scheduled (image pull and model load included) before it is ended as failed
   * @param downloadTimeout longest run of a model download Job
   * @param sweepInterval how often Gantry-labelled objects whose deployment or worker is gone are
   *     deleted
   * @param sweepGrace how old such an object must be before the sweeper deletes it, so that one
   *     created a moment before its record is never taken for an orphan
   */
  public record Kubernetes(
      String namespace,
      @Valid @DefaultValue Images images,
      @DefaultValue("gantry:latest") @NotEmpty String gantryImage,
      @DefaultValue({
            "java",
            "-XX:+UseSerialGC",
            "-Xmx192m",
            "-jar",
            "/opt/gantry/gantry.jar",
            "sim"
          })
          @NotEmpty
          List<String> simCommand,
      @DefaultValue("8000") @Min(1024) @Max(65535) int enginePort,
      @DefaultValue("gantry.dev/gpu-type") @NotEmpty String gpuNodeLabel,
      String storageClass,
      @DefaultValue("ReadWriteMany") @NotEmpty String storageAccessMode,
      @DefaultValue("64Gi") @NotEmpty String memoryLimit,
      @DefaultValue("512Mi") @NotEmpty String simMemoryLimit,
      @DefaultValue("1Gi") @NotEmpty String downloadMemoryLimit,
      @DefaultValue("8Gi") @NotEmpty String ephemeralStorageLimit,
      @DefaultValue("10001") @Min(1) long runAsUser,
      @DefaultValue("60s") @NotNull Duration scheduleTimeout,
      @DefaultValue("30m") @NotNull Duration readyTimeout,
      @DefaultValue("6h") @NotNull Duration downloadTimeout,
      @DefaultValue("60s") @NotNull Duration sweepInterval,
      @DefaultValue("5m") @NotNull Duration sweepGrace) {

    /** Longest schedule timeout: the start activity that waits for it has two minutes. */
    public static final Duration MAX_SCHEDULE_TIMEOUT = Duration.ofSeconds(90);

    private static final Set<String> ACCESS_MODES =
        Set.of("ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod");

    public Kubernetes {
      namespace = namespace == null || namespace.isBlank() ? null : namespace.trim();
      storageClass = storageClass == null || storageClass.isBlank() ? null : storageClass.trim();
      simCommand = simCommand == null ? List.of() : List.copyOf(simCommand);
      if (storageAccessMode != null && !ACCESS_MODES.contains(storageAccessMode)) {
        throw new IllegalArgumentException(
            "gantry.runtime.kubernetes.storage-access-mode must be one of "
                + ACCESS_MODES
                + ", got "
                + storageAccessMode);
      }
      for (Duration d :
          new Duration[] {
            scheduleTimeout, readyTimeout, downloadTimeout, sweepInterval, sweepGrace
          }) {
        if (d != null && !d.isPositive()) {
          throw new IllegalArgumentException(
              "gantry.runtime.kubernetes timeouts and sweep settings must be positive");
        }
      }
      if (scheduleTimeout != null && scheduleTimeout.compareTo(MAX_SCHEDULE_TIMEOUT) > 0) {
        throw new IllegalArgumentException(
            "gantry.runtime.kubernetes.schedule-timeout must be at most 90s, got "
                + scheduleTimeout);
      }
    }
  }

  /**
   * @param vllm the image that has {@code vllm} on its path
   * @param sglang the image that has {@code python3 -m sglang.launch_server}
   * @param ollama the image that has {@code ollama}
   * @param sim the image that runs the simulator (the Gantry image)
   */
  public record Images(
      @DefaultValue("vllm/vllm-openai:latest") @NotEmpty String vllm,
      @DefaultValue("lmsysorg/sglang:latest") @NotEmpty String sglang,
      @DefaultValue("ollama/ollama:latest") @NotEmpty String ollama,
      @DefaultValue("gantry:latest") @NotEmpty String sim) {}

  /**
   * @param gpus GPU types and counts on this host; none by default (no real GPU is assumed)
   * @param virtualSlots slots for {@code sim} workers, which need no GPU; one per worker
   * @param simStartTimeout how long a {@code sim} engine may take to become healthy
   * @param engineStartTimeout how long a real engine (vLLM, SGLang, Ollama) may take to become
   *     healthy; loading weights onto a GPU takes minutes
   * @param drainTimeout how long a draining worker waits for its in-flight requests when it is
   *     stopped (deletion); see {@code scaleInDrainTimeout} for idle scale-in
   * @param scaleInDrainTimeout how long a worker reaped for scale-in waits for the generations it
   *     still runs; long by default, so a live generation is bounded only by its own limits
   * @param healthCheckInterval how often the engine of a healthy worker is probed on its health
   *     route
   * @param healthCheckTimeout how long one health probe may take before it counts as failed
   * @param healthCheckFailures failed probes in a row after which the worker is ended as {@code
   *     failed} (its engine killed) and replaced
   * @param stopGrace time between SIGTERM and SIGKILL
   * @param logMaxBytes size at which a worker's log file is rotated (one older file is kept)
   * @param simCommand command that starts the simulator, before its flags; derived from this JVM
   *     when empty
   * @param simJvmOptions JVM options for {@code sim} workers
   * @param simAotCache whether {@code sim} workers start from an ahead-of-time cache of the
   *     simulator's classes (JDK 25 and later; it halves the CPU a boot costs), which Gantry builds
   *     once per simulator build and JVM with a training run in the background
   * @param containment how engines are confined when Gantry runs as root
   */
  public record Local(
      @Valid List<GpuSlot> gpus,
      @DefaultValue("16") @Min(0) int virtualSlots,
      @DefaultValue("60s") @NotNull Duration simStartTimeout,
      @DefaultValue("30m") @NotNull Duration engineStartTimeout,
      @DefaultValue("30s") @NotNull Duration drainTimeout,
      @DefaultValue("6h") @NotNull Duration scaleInDrainTimeout,
      @DefaultValue("10s") @NotNull Duration healthCheckInterval,
      @DefaultValue("5s") @NotNull Duration healthCheckTimeout,
      @DefaultValue("3") @Min(1) @Max(100) int healthCheckFailures,
      @DefaultValue("10s") @NotNull Duration stopGrace,
      @DefaultValue("10485760") @Positive long logMaxBytes,
      List<String> simCommand,
      @DefaultValue({"-XX:+UseSerialGC", "-Xmx192m", "-XX:TieredStopAtLevel=1", "-Xshare:auto"})
          List<String> simJvmOptions,
      @DefaultValue("true") boolean simAotCache,
      @Valid @DefaultValue Containment containment) {

    /** Longest scale-in drain: the workflow's bound on the stop activity is a little longer. */
    public static final Duration MAX_SCALE_IN_DRAIN = Duration.ofHours(12);

    public Local {
      if (scaleInDrainTimeout != null
          && (scaleInDrainTimeout.isNegative()
              || scaleInDrainTimeout.compareTo(MAX_SCALE_IN_DRAIN) > 0)) {
        throw new IllegalArgumentException(
            "gantry.runtime.local.scale-in-drain-timeout must be between 0 and 12h, got "
                + scaleInDrainTimeout);
      }
      if (healthCheckInterval != null
          && healthCheckTimeout != null
          && (!healthCheckInterval.isPositive() || !healthCheckTimeout.isPositive())) {
        throw new IllegalArgumentException(
            "gantry.runtime.local.health-check-interval and health-check-timeout must be positive");
      }
      gpus = gpus == null ? List.of() : List.copyOf(gpus);
      simCommand = simCommand == null ? List.of() : List.copyOf(simCommand);
      simJvmOptions = simJvmOptions == null ? List.of() : List.copyOf(simJvmOptions);
    }
  }

  /**
   * How the local runtime confines engines (see docs/security.md). When Gantry runs as root, each
   * deployment's engines run under a numeric uid of their own from {@code [uidBase, uidBase +
   * uidCount)}, through {@code setpriv}: they cannot read the data dir's secrets, database or logs,
   * nor another deployment's storage. When Gantry does not run as root, engines run as its user.
   *
   * @param uidBase first uid (and gid) given to a deployment's engines; no user entry is needed
   * @param uidCount how many uids the range has: deployments that can run engines at once
   * @param enginePath the {@code PATH} engines get, and where {@code vllm}, {@code python3} and
   *     {@code ollama} are looked up
   * @param extraEnv variable names tenants may set beyond the built-in allowlist; names that load
   *     code or name paths ({@code LD_*}, {@code PYTHON*}, {@code *_PATH}...) are refused at start
   */
  public record Containment(
      @DefaultValue("2000000000") @Min(1000) @Max(2_000_000_000) int uidBase,
      @DefaultValue("100000") @Min(1) @Max(100_000_000) int uidCount,
      @DefaultValue("/usr/local/bin:/usr/bin:/bin") @NotEmpty String enginePath,
      List<String> extraEnv) {

    public Containment {
      extraEnv = extraEnv == null ? List.of() : List.copyOf(extraEnv);
    }
  }

  /**
   * @param type a GPU type of the catalog
   * @param count how many of them this host has
   */
  public record GpuSlot(@NotEmpty String type, @Min(0) int count) {}

  /**
   * @param maxBodyBytes largest inference request body; larger ones are answered 413
   * @param maxQueue the most requests that may wait per deployment for a free worker, a ceiling
   *     against runaway memory (more are answered 429); the admission rule itself is the wait
   *     estimate of the deployment's route
   * @param routeRefresh how often the routing table re-reads running deployments and workers
   * @param demandReportInterval how often a deployment with waiting requests reports its demand
   * @param connectTimeout how long connecting to a worker may take before it counts as unreachable
   * @param responseTimeout longest silence from a worker while it answers (504 before the response
   *     started)
   * @param firstByteTimeout longest wait for the first byte of a worker's answer to a streamed
   *     request (504, and the worker gets no new requests for the unreachable cooldown); a whole
   *     answer comes only when generated, so it is bounded by {@code responseTimeout} alone
   * @param unreachableCooldown how long a worker that refused a connection gets no new requests
   * @param queuedBodyBytes request body bytes all inference requests may hold in memory at once,
   *     while they are received, wait for a worker and are sent to it; past it requests are
   *     answered 429 (0: a quarter of the maximum heap)
   * @param queuedBodyBytesPerTenant the same, for the requests of one tenant (0: half of {@code
   *     queuedBodyBytes})
   * @param queuedBodyBytesPerDeployment the same, for the requests of one deployment (0: half of
   *     the per-tenant bound); never below {@code maxBodyBytes}, or a large request could never be
   *     taken
   * @param bodyTimeout longest silence from a client while it sends a request body; then the
   *     request is answered 408 and what it held is let go
   * @param requestHeaderTimeout longest time from the first byte of a request (or the connection
   *     opening) to the end of its head; a slower client's connection is closed
   * @param requestBodyTimeout longest time from a request's head to the end of its body
   * @param keepAliveTimeout how long a connection may stay open with no request on it
   * @param shutdownDrain how long a stopping gateway waits for the inference requests under way
   *     (new ones get 503); kept well under the 30 s a platform may take to exit
   */
  public record Gateway(
      @DefaultValue("8388608") @Positive long maxBodyBytes,
      @DefaultValue("4096") @Min(0) int maxQueue,
      @DefaultValue("500ms") @NotNull Duration routeRefresh,
      @DefaultValue("250ms") @NotNull Duration demandReportInterval,
      @DefaultValue("2s") @NotNull Duration connectTimeout,
      @DefaultValue("10m") @NotNull Duration responseTimeout,
      @DefaultValue("5s") @NotNull Duration unreachableCooldown,
      @DefaultValue("0") @Min(0) long queuedBodyBytes,
      @DefaultValue("0") @Min(0) long queuedBodyBytesPerTenant,
      @DefaultValue("0") @Min(0) long queuedBodyBytesPerDeployment,
      @DefaultValue("30s") @NotNull Duration bodyTimeout,
      @DefaultValue("60s") @NotNull Duration firstByteTimeout,
      @DefaultValue("10s") @NotNull Duration requestHeaderTimeout,
      @DefaultValue("60s") @NotNull Duration requestBodyTimeout,
      @DefaultValue("5m") @NotNull Duration keepAliveTimeout,
      @DefaultValue("10s") @NotNull Duration shutdownDrain) {

    public Gateway {
      if (firstByteTimeout != null && !firstByteTimeout.isPositive()) {
        throw new IllegalArgumentException(
            "gantry.gateway.first-byte-timeout must be positive, got " + firstByteTimeout);
      }
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
   * Gateway replicas sharing one database divide every worker's {@code concurrency} slots among
   * themselves (docs/architecture.md, "Cluster mode").
   *
   * @param heartbeatInterval how often a gateway beats its membership row and re-reads the others'
   * @param memberTimeout how long a gateway's beat may stay unchanged before the others count it
   *     gone and take its slots; a gateway that cannot beat for half of it (with others around)
   *     gives its slots up first
   */
  public record Cluster(
      @DefaultValue("500ms") @NotNull Duration heartbeatInterval,
      @DefaultValue("5s") @NotNull Duration memberTimeout) {

    public Cluster {
      if (heartbeatInterval != null && !heartbeatInterval.isPositive()) {
        throw new IllegalArgumentException(
            "gantry.cluster.heartbeat-interval must be positive, got " + heartbeatInterval);
      }
      if (heartbeatInterval != null
          && memberTimeout != null
          && memberTimeout.compareTo(heartbeatInterval.multipliedBy(4)) < 0) {
        throw new IllegalArgumentException(
            "gantry.cluster.member-timeout must be at least four heartbeat intervals, got "
                + memberTimeout);
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
   * @param maxInputBytesPerTenant input bytes one tenant's unfinished jobs may keep stored; a
   *     submit past it is answered 429 and nothing is stored
   * @param maxInputBytes input bytes all unfinished jobs may keep stored; a submit past it is
   *     answered 429 and nothing is stored
   */
  public record Jobs(
      @DefaultValue("30m") @NotNull Duration retention,
      @DefaultValue("1h") @NotNull Duration timeout,
      @DefaultValue("1000") @Positive int maxRunning,
      @DefaultValue("16777216") @Positive long maxResultBytes,
      @DefaultValue("30s") @NotNull Duration sweepInterval,
      @DefaultValue("268435456") @Positive long maxInputBytesPerTenant,
      @DefaultValue("1073741824") @Positive long maxInputBytes) {

    public Jobs {
      if (maxInputBytesPerTenant > maxInputBytes) {
        throw new IllegalArgumentException(
            "gantry.jobs.max-input-bytes-per-tenant must not be above gantry.jobs.max-input-bytes");
      }
    }
  }

  /**
   * @param hfEndpoint the Hugging Face Hub (or a mirror); when unset, the process's {@code
   *     HF_ENDPOINT} environment variable (the Hub's own convention for mirrors), else {@code
   *     https://huggingface.co}; a deployment's own {@code HF_ENDPOINT} env value wins when allowed
   * @param ollamaRegistry the Ollama registry that {@code ollama} models are pulled from
   * @param parallelDownloads files downloaded at the same time for one deployment
   * @param connectTimeout how long connecting to the Hub, the registry or their CDN may take
   * @param stallTimeout how long a download may go without receiving a byte before it is aborted
   *     and retried
   * @param fileRetries times one file is resumed within an attempt after a network error, before
   *     the attempt fails and the workflow retries it with backoff
   * @param progressInterval how often download progress is reported (heartbeat and database)
   * @param minFreeDiskBytes free disk the data volume keeps beyond what a download needs
   * @param allowedEndpoints mirrors a deployment may name in its {@code HF_ENDPOINT} env, as base
   *     URLs; the Hub and {@code hfEndpoint} are always allowed, anything else is refused (400)
   * @param allowPrivateAddresses whether downloads may connect to loopback, link-local, private,
   *     multicast or unspecified addresses that are not the host of a configured endpoint (also
   *     after redirects and DNS); off, so a tenant cannot reach the platform's own network
   * @param minBytesPerSecond slowest average transfer rate over {@code rateWindow} a download may
   *     keep; a slower attempt fails and is retried (0 turns the check off)
   * @param rateWindow the span over which {@code minBytesPerSecond} is measured
   * @param maxListingFiles most files a repo's listing may name; a larger one fails the deployment
   * @param maxDownloadsPerTenant model downloads one tenant runs at once on this orchestrator; its
   *     other deployments wait (shown in their status reason) without holding a download slot
   * @param maxConcurrentDownloads model downloads this orchestrator runs at once, all tenants
   *     together (the activity slots of the {@code gantry-downloads} task queue's worker)
   */
  public record Models(
      String hfEndpoint,
      @DefaultValue("https://registry.ollama.ai") @NotEmpty String ollamaRegistry,
      @DefaultValue("4") @Min(1) @Max(64) int parallelDownloads,
      @DefaultValue("10s") @NotNull Duration connectTimeout,
      @DefaultValue("2m") @NotNull Duration stallTimeout,
      @DefaultValue("2") @Min(0) int fileRetries,
      @DefaultValue("1s") @NotNull Duration progressInterval,
      @DefaultValue("67108864") @Min(0) long minFreeDiskBytes,
      List<String> allowedEndpoints,
      @DefaultValue("false") boolean allowPrivateAddresses,
      @DefaultValue("1024") @Min(0) long minBytesPerSecond,
      @DefaultValue("60s") @NotNull Duration rateWindow,
      @DefaultValue("10000") @Positive int maxListingFiles,
      @DefaultValue("4") @Positive int maxDownloadsPerTenant,
      @DefaultValue("200") @Positive int maxConcurrentDownloads) {

    /** The public Hub, always an allowed endpoint. */
    public static final String HUGGING_FACE_HUB = "https://huggingface.co";

    @org.springframework.boot.context.properties.bind.ConstructorBinding
    public Models {
      hfEndpoint = defaultHfEndpoint(hfEndpoint, System.getenv());
      allowedEndpoints = allowedEndpoints == null ? List.of() : List.copyOf(allowedEndpoints);
    }

    /** The settings of releases before the tenant and network limits, with their defaults. */
    public Models(
        String hfEndpoint,
        String ollamaRegistry,
        int parallelDownloads,
        Duration connectTimeout,
        Duration stallTimeout,
        int fileRetries,
        Duration progressInterval,
        long minFreeDiskBytes) {
      this(
          hfEndpoint,
          ollamaRegistry,
          parallelDownloads,
          connectTimeout,
          stallTimeout,
          fileRetries,
          progressInterval,
          minFreeDiskBytes,
          List.of(),
          false,
          1024,
          Duration.ofSeconds(60),
          10_000,
          4,
          200);
    }

    /**
     * The Hub endpoint when {@code gantry.models.hf-endpoint} is not set: the process's {@code
     * HF_ENDPOINT}, as the Hugging Face tools read it, else the public Hub.
     */
    public static String defaultHfEndpoint(String configured, java.util.Map<String, String> env) {
      if (configured != null && !configured.isBlank()) {
        return configured;
      }
      String fromEnv = env.get("HF_ENDPOINT");
      return fromEnv != null && !fromEnv.isBlank() ? fromEnv.trim() : HUGGING_FACE_HUB;
    }

    /** A copy with other network rules; tests of the defaults' neighbours use it. */
    public Models withNetwork(List<String> allowedEndpoints, boolean allowPrivateAddresses) {
      return new Models(
          hfEndpoint,
          ollamaRegistry,
          parallelDownloads,
          connectTimeout,
          stallTimeout,
          fileRetries,
          progressInterval,
          minFreeDiskBytes,
          allowedEndpoints,
          allowPrivateAddresses,
          minBytesPerSecond,
          rateWindow,
          maxListingFiles,
          maxDownloadsPerTenant,
          maxConcurrentDownloads);
    }
  }
}
