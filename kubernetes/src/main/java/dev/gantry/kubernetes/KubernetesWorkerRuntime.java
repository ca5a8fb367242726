package dev.gantry.kubernetes;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.runtime.EngineEnvPolicy;
import dev.gantry.infra.runtime.EngineExit;
import dev.gantry.infra.runtime.EngineHttp;
import dev.gantry.infra.runtime.EngineLaunchSpec;
import dev.gantry.infra.runtime.FrameworkArgPolicy;
import dev.gantry.infra.runtime.LogFollow;
import dev.gantry.infra.runtime.LogLines;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.runtime.WorkerRuntimeException;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.LogWatch;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import java.net.HttpURLConnection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code kubernetes} runtime: each worker's engine is a Pod named after the worker id. Pod
 * state comes from one informer (a watch) on Gantry's worker Pods; starts and stops wait on watches
 * too, never on polling loops. Engines outlive the platform: another orchestrator, or this one
 * after a restart, finds them by name and label.
 */
public class KubernetesWorkerRuntime implements WorkerRuntime, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubernetesWorkerRuntime.class);

  private final java.util.concurrent.atomic.AtomicInteger activeLogFollows =
      new java.util.concurrent.atomic.AtomicInteger();
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  /** How long a deleted Pod may take to go beyond its grace (the kubelet's own kill). */
  private static final Duration DELETE_SLACK = Duration.ofSeconds(30);

  private final KubernetesClient client;
  private final String namespace;
  private final GantryProperties.Kubernetes settings;
  private final WorkerPods pods;
  private final KubernetesSecrets secrets;
  private final EngineEnvPolicy envPolicy;
  private final EngineHttp http = new EngineHttp(PROBE_TIMEOUT);
  private final Clock clock;
  private final Map<String, CompletableFuture<EngineExit>> exits = new ConcurrentHashMap<>();
  private final Watched<Pod> watched;

  /** Names of worker Pods seen ready. */
  private final Set<String> everReady = ConcurrentHashMap.newKeySet();

  public KubernetesWorkerRuntime(KubernetesClient client, GantryProperties properties) {
    this(client, properties, Clock.systemUTC(), Duration.ofSeconds(10));
  }

  /**
   * @param resync how often the informer hands every Pod to the handler again: the readiness
   *     deadline is checked then, as no event comes when nothing changes
   */
  KubernetesWorkerRuntime(
      KubernetesClient client, GantryProperties properties, Clock clock, Duration resync) {
    this.client = client;
    this.settings = properties.runtime().kubernetes();
    this.namespace = namespaceOf(client, settings);
    this.pods = new WorkerPods(properties);
    this.secrets = new KubernetesSecrets(client, namespace);
    this.envPolicy = new EngineEnvPolicy(properties.runtime().local().containment().extraEnv());
    this.clock = clock;
    this.watched =
        new Watched<>(
            () -> client.pods().inNamespace(namespace).withLabels(workerSelector()),
            name -> pod(name).get(),
            new Handler(),
            resync);
  }

  static String namespaceOf(KubernetesClient client, GantryProperties.Kubernetes settings) {
    String ns = settings.namespace() != null ? settings.namespace() : client.getNamespace();
    return ns == null ? "default" : ns;
  }

  @Override
  public RunningWorker start(WorkerLaunchRequest request) {
    String workerId = request.workerId();
    if (!KubernetesNames.isWorkerId(workerId)) {
      throw new IllegalArgumentException("not a worker id: " + workerId);
    }
    checkFrameworkArgs(request);
    String name = KubernetesNames.podName(workerId);
    Pod existing = pod(name).get();
    if (existing != null) {
      if (!PodStates.terminating(existing) && failureOf(existing).isEmpty()) {
        log.info("worker {} already has its Pod {}; not creating another", workerId, name);
        try {
          Pod seen = awaitStartable(name, settings.scheduleTimeout());
          if (PodStates.addressed(seen)) {
            return running(seen);
          }
        } catch (TimeoutException e) {
          log.warn("worker {}: its existing Pod {} was not scheduled in time", workerId, name);
        }
      }
      // What is left of an earlier attempt cannot serve: it makes room for a fresh Pod.
      deleteAndWait(name, Duration.ZERO);
    }
    EngineLaunchSpec spec = pods.spec(request);
    Set<String> secretKeys = engineSecret(request);
    Instant deadline = clock.instant().plus(settings.scheduleTimeout());
    List<String> refused = new ArrayList<>();
    List<String> candidates = gpuCandidates(request);
    for (String gpuType : candidates) {
      Pod desired = pods.desired(request, spec, gpuType, secretKeys);
      create(desired);
      Pod seen;
      try {
        seen = awaitStartable(name, remaining(deadline));
      } catch (TimeoutException e) {
        deleteAndWait(name, Duration.ZERO);
        throw new WorkerRuntimeException(
            FailureType.TRANSIENT,
            "the worker's Pod was not scheduled within %d s (gantry.runtime.kubernetes.schedule-timeout)"
                .formatted(settings.scheduleTimeout().toSeconds()));
      }
      if (PodStates.addressed(seen)) {
        log.info(
            "started {} engine for worker {}: Pod {} at {} ({})",
            request.framework().wireName(),
            workerId,
            name,
            seen.getStatus().getPodIP(),
            gpuType == null ? "no GPU" : request.gpu().count() + " × " + gpuType);
        return running(seen);
      }
      Optional<String> unschedulable = PodStates.unschedulable(seen);
      if (unschedulable.isPresent()) {
        refused.add((gpuType == null ? "" : gpuType + ": ") + unschedulable.get());
        log.info("worker {}: no node can take its Pod ({})", workerId, refused.getLast());
        deleteAndWait(name, Duration.ZERO);
        continue;
      }
      var failure = failureOf(seen).orElseThrow();
      deleteAndWait(name, Duration.ZERO);
      throw new WorkerRuntimeException(failure.type(), failure.reason());
    }
    throw new WorkerRuntimeException(FailureType.NO_GPU_CAPACITY, noCapacity(request, refused));
  }

  private static String noCapacity(WorkerLaunchRequest request, List<String> refused) {
    GpuSpec gpu = request.gpu();
    String needs =
        gpu == null || gpu.type() == null
            ? "no node can take the " + request.framework().wireName() + " worker"
            : "no GPU free for scale-up: needs %d × %s%s"
                .formatted(
                    gpu.count(),
                    gpu.type(),
                    gpu.fallbackTypes().isEmpty()
                        ? ""
                        : " (or " + String.join(", ", gpu.fallbackTypes()) + ")");
    return needs + "; Kubernetes could not schedule it: " + String.join("; ", refused);
  }

  /** The GPU types to try, in order; a single null for a worker without GPUs. */
  private static List<String> gpuCandidates(WorkerLaunchRequest request) {
    GpuSpec gpu = request.gpu();
    if (request.framework() == Framework.SIM && (gpu == null || gpu.count() < 1)) {
      List<String> none = new ArrayList<>();
      none.add(null);
      return none;
    }
    if (gpu == null || gpu.type() == null || gpu.count() < 1) {
      throw new WorkerRuntimeException(
          FailureType.INVALID_SPEC,
          "framework "
              + request.framework().wireName()
              + " needs a gpu with a type and a count of 1 or more");
    }
    Set<String> types = new LinkedHashSet<>();
    types.add(gpu.type());
    types.addAll(gpu.fallbackTypes());
    return List.copyOf(types);
  }

  /**
   * Writes the deployment's env the engines may have into its Secret; returns the names. Names an
   * engine must not get are left out, as the local runtime leaves them out of a process.
   */
  private Set<String> engineSecret(WorkerLaunchRequest request) {
    Map<String, String> allowed = new LinkedHashMap<>();
    Set<String> dropped = new TreeSet<>();
    request
        .env()
        .forEach(
            (key, value) -> {
              if (envPolicy.allows(key)) {
                allowed.put(key, value);
              } else {
                dropped.add(key);
              }
            });
    if (!dropped.isEmpty()) {
      log.warn(
          "worker {}: env variable(s) {} of deployment {} are not allowed for engines; left out",
          request.workerId(),
          dropped,
          request.deploymentId());
    }
    secrets.put(
        KubernetesNames.engineSecretName(request.deploymentId()),
        KubernetesNames.labels(request.deploymentId(), KubernetesNames.ENGINE_ENV),
        allowed);
    return allowed.keySet();
  }

  private static void checkFrameworkArgs(WorkerLaunchRequest request) {
    List<String> args = request.frameworkArgs();
    for (int i = 0; i < args.size(); i++) {
      Optional<String> refusal = FrameworkArgPolicy.refusal(request.framework(), args.get(i), true);
      if (refusal.isPresent()) {
        throw new WorkerRuntimeException(
            FailureType.INVALID_SPEC,
            "framework_args[%d] is refused: %s; create a new deployment without it"
                .formatted(i, refusal.get()));
      }
    }
  }

  private void create(Pod desired) {
    try {
      client.pods().inNamespace(namespace).resource(desired).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
        throw new WorkerRuntimeException(
            FailureType.TRANSIENT, "Kubernetes refused the worker's Pod: " + e.getMessage(), e);
      }
      // A concurrent attempt created it: waiting on it is what this attempt would do.
    }
  }

  /** Waits until the Pod has an address, cannot be scheduled, or has failed. */
  private Pod awaitStartable(String name, Duration timeout) throws TimeoutException {
    return await(
        name,
        p ->
            p != null
                && (PodStates.addressed(p)
                    || PodStates.unschedulable(p).isPresent()
                    || failureOf(p).isPresent()),
        timeout);
  }

  /** Waits until the Pod (null: no Pod of that name) satisfies {@code until}. */
  private Pod await(String name, Predicate<Pod> until, Duration timeout) throws TimeoutException {
    try {
      return watched.await(name, until, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "interrupted while waiting for the Pod " + name, e);
    }
  }

  private Duration remaining(Instant deadline) {
    Duration left = Duration.between(clock.instant(), deadline);
    return left.isNegative() ? Duration.ZERO : left;
  }

  private RunningWorker running(Pod pod) {
    var meta = pod.getMetadata();
    var annotations =
        meta.getAnnotations() == null ? Map.<String, String>of() : meta.getAnnotations();
    int port =
        Integer.parseInt(
            annotations.getOrDefault(
                KubernetesNames.ENGINE_PORT, Integer.toString(settings.enginePort())));
    String ip = pod.getStatus().getPodIP();
    String host = ip.contains(":") ? "[" + ip + "]" : ip;
    String gpuType = meta.getLabels().get(KubernetesNames.GPU_TYPE);
    return new RunningWorker(
        meta.getLabels().get(KubernetesNames.WORKER_ID),
        -1,
        port,
        "http://" + host + ":" + port,
        gpuType,
        gpuType == null ? 0 : gpuCount(pod),
        annotations.getOrDefault(KubernetesNames.HEALTH_PATH, "/health"),
        annotations.get(KubernetesNames.METRICS_PATH),
        null);
  }

  private static int gpuCount(Pod pod) {
    var resources = pod.getSpec().getContainers().getFirst().getResources();
    Quantity gpus =
        resources.getLimits() == null ? null : resources.getLimits().get(WorkerPods.GPU_RESOURCE);
    return gpus == null ? 0 : Integer.parseInt(gpus.getAmount());
  }

  @Override
  public Optional<RunningWorker> find(String workerId) {
    Pod pod = current(KubernetesNames.podName(workerId));
    if (pod == null
        || PodStates.terminating(pod)
        || !PodStates.addressed(pod)
        || failureOf(pod).isPresent()) {
      return Optional.empty();
    }
    return Optional.of(running(pod));
  }

  @Override
  public boolean probe(RunningWorker worker) {
    return http.probe(worker, PROBE_TIMEOUT);
  }

  @Override
  public boolean probe(RunningWorker worker, Duration timeout) {
    return http.probe(worker, timeout);
  }

  @Override
  public Optional<Integer> inFlight(RunningWorker worker) {
    return http.inFlight(worker);
  }

  @Override
  public CompletableFuture<EngineExit> onExit(String workerId) {
    String name = KubernetesNames.podName(workerId);
    CompletableFuture<EngineExit> exit =
        exits.computeIfAbsent(workerId, k -> new CompletableFuture<>());
    // An event before the registration above would have found no future: look once now.
    Pod pod = current(name);
    Optional<PodStates.Failure> failure =
        pod == null || PodStates.terminating(pod) ? Optional.of(gone()) : failureOf(pod);
    failure.ifPresent(f -> complete(workerId, f));
    return exit.thenApply(e -> e);
  }

  private static PodStates.Failure gone() {
    return new PodStates.Failure(FailureType.ENGINE_FAILED, -1, "the worker's Pod was deleted");
  }

  private void complete(String workerId, PodStates.Failure failure) {
    CompletableFuture<EngineExit> exit = exits.remove(workerId);
    if (exit != null) {
      exit.complete(new EngineExit(failure.exitCode(), failure.reason()));
    }
  }

  @Override
  public void stop(String workerId, Duration grace) {
    String name = KubernetesNames.podName(workerId);
    deleteAndWait(name, grace);
    log.info("stopped the engine of worker {}: Pod {} is gone", workerId, name);
  }

  private void deleteAndWait(String name, Duration grace) {
    pod(name).withGracePeriod(Math.max(0, grace.toSeconds())).delete();
    Duration bound = grace.plus(DELETE_SLACK);
    try {
      await(name, Objects::isNull, bound);
    } catch (TimeoutException e) {
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT,
          "the Pod %s is still terminating %d s after it was deleted"
              .formatted(name, bound.toSeconds()),
          e);
    }
  }

  @Override
  public List<String> knownWorkers() {
    return client
        .pods()
        .inNamespace(namespace)
        .withLabels(workerSelector())
        .list()
        .getItems()
        .stream()
        .map(p -> p.getMetadata().getLabels().get(KubernetesNames.WORKER_ID))
        .filter(KubernetesNames::isWorkerId)
        .sorted()
        .toList();
  }

  @Override
  public String logTail(String workerId, int lines) {
    try {
      String text = pod(KubernetesNames.podName(workerId)).tailingLines(lines).getLog();
      return text == null ? "" : text;
    } catch (KubernetesClientException e) {
      String why = e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage();
      return "(the engine's log cannot be read from Kubernetes: " + why + ")";
    }
  }

  /**
   * Follows the Pod's log through the API server ({@code pods/log?follow=true}): the server ends
   * the stream when the container stops, and closing the follow closes the connection. One virtual
   * thread per follow reads it.
   */
  @Override
  public LogFollow followLog(String workerId, int tailLines, LogFollow.Listener listener) {
    LogWatch watch;
    try {
      watch = pod(KubernetesNames.podName(workerId)).tailingLines(tailLines).watchLog();
    } catch (KubernetesClientException e) {
      String why = e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage();
      listener.line("(the engine's log cannot be read from Kubernetes: " + why + ")");
      listener.end();
      return () -> {};
    }
    var closed = new java.util.concurrent.atomic.AtomicBoolean();
    activeLogFollows.incrementAndGet();
    Thread.ofVirtual()
        .name("gantry-log-follow-" + workerId)
        .start(
            () -> {
              try (var in = watch.getOutput()) {
                LogLines.split(in, listener::line, closed::get);
                if (!closed.get()) {
                  listener.end();
                }
              } catch (java.io.IOException | RuntimeException e) {
                if (!closed.get()) {
                  log.debug("the log follow of {} ended: {}", workerId, e.toString());
                  listener.end();
                }
              } finally {
                watch.close();
                activeLogFollows.decrementAndGet();
              }
            });
    return () -> {
      closed.set(true);
      watch.close();
    };
  }

  /** Follows of Pod logs whose reading thread is still alive. */
  int activeLogFollows() {
    return activeLogFollows.get();
  }

  /** Engine logs live with their Pods, and go with them. */
  @Override
  public void removeLogs(String deploymentId) {}

  /** Pods run on their own; a platform stop leaves them to the next orchestrator. */
  @Override
  public boolean enginesStopWithPlatform() {
    return false;
  }

  /**
   * The readiness deadline is a start's: a Pod seen ready once is not held to it, as an engine that
   * stops answering later is the health probes' to find (and say so).
   */
  private Optional<PodStates.Failure> failureOf(Pod pod) {
    String name = pod.getMetadata().getName();
    if (PodStates.ready(pod)) {
      everReady.add(name);
    }
    Instant readyBy =
        everReady.contains(name)
            ? null
            : PodStates.created(pod).map(c -> c.plus(settings.readyTimeout())).orElse(null);
    return PodStates.failure(pod, clock.instant(), readyBy);
  }

  /** The worker's Pod as the informer's cache holds it, if it does. */
  Optional<Pod> cached(String workerId) {
    return Optional.ofNullable(watched.cached(namespace, KubernetesNames.podName(workerId)));
  }

  /** Whether the worker's Pod has been seen ready (since this process started). */
  boolean seenReady(String workerId) {
    return everReady.contains(KubernetesNames.podName(workerId));
  }

  private PodResource pod(String name) {
    return client.pods().inNamespace(namespace).withName(name);
  }

  /**
   * From the informer's cache; from the API server when the cache has not seen the Pod yet, or not
   * yet its address (the cache may lag the start that just saw it).
   */
  private Pod current(String name) {
    Pod cached = watched.cached(namespace, name);
    return cached != null && PodStates.addressed(cached) ? cached : pod(name).get();
  }

  private static Map<String, String> workerSelector() {
    return Map.of(
        KubernetesNames.MANAGED_BY, KubernetesNames.GANTRY,
        KubernetesNames.COMPONENT, KubernetesNames.WORKER);
  }

  /** Completes the exits of watched workers whose Pods failed or went away. */
  private final class Handler implements ResourceEventHandler<Pod> {
    @Override
    public void onAdd(Pod pod) {
      check(pod);
    }

    @Override
    public void onUpdate(Pod old, Pod pod) {
      check(pod);
    }

    @Override
    public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
      String workerId = workerIdOf(pod);
      if (workerId != null) {
        var failure = failureOf(pod);
        complete(workerId, failure.orElse(gone()));
      }
      everReady.remove(pod.getMetadata().getName());
    }

    private void check(Pod pod) {
      if (PodStates.ready(pod)) {
        everReady.add(pod.getMetadata().getName());
      }
      String workerId = workerIdOf(pod);
      if (workerId != null && exits.containsKey(workerId)) {
        failureOf(pod).ifPresent(f -> complete(workerId, f));
      }
    }

    private String workerIdOf(Pod pod) {
      var labels = pod.getMetadata().getLabels();
      return labels == null ? null : labels.get(KubernetesNames.WORKER_ID);
    }
  }

  @Override
  public void close() {
    watched.close();
    http.close();
  }
}
