package dev.gantry.gateway.inference;

import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.gateway.deployment.DeploymentOrchestrator;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.db.WorkerRepository.WorkerTransition;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Plays the control plane for the gateway's tests with real engines: on demand it starts {@code
 * sim} workers through the local runtime and records them as the worker workflow would
 * (provisioning, then healthy with the endpoint), or refuses the scale-up for lack of GPUs.
 */
public class SimAutoscaler implements DeploymentOrchestrator {
  final List<DemandReport> demand = new CopyOnWriteArrayList<>();
  final List<String> activity = new CopyOnWriteArrayList<>();
  final Set<String> scaling = ConcurrentHashMap.newKeySet();
  final Set<String> refusing = ConcurrentHashMap.newKeySet();
  private final Map<String, AtomicInteger> ordinals = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> live = new ConcurrentHashMap<>();
  final Map<String, RunningWorker> started = new ConcurrentHashMap<>();

  private final WorkerRuntime runtime;
  private final WorkerRepository workers;
  private final DeploymentRepository deployments;
  private final GantryProperties properties;
  private final HttpClient http = HttpClient.newHttpClient();

  public SimAutoscaler(
      WorkerRuntime runtime,
      WorkerRepository workers,
      DeploymentRepository deployments,
      GantryProperties properties) {
    this.runtime = runtime;
    this.workers = workers;
    this.deployments = deployments;
    this.properties = properties;
  }

  void reset() {
    demand.clear();
    activity.clear();
    scaling.clear();
    refusing.clear();
    for (String id : started.keySet()) {
      runtime.stop(id, Duration.ZERO);
    }
    started.clear();
  }

  @Override
  public void reportDemand(String deploymentId, DemandReport report) {
    demand.add(report);
    var record = deployments.findById(deploymentId).orElseThrow();
    if (refusing.contains(deploymentId)) {
      deployments.updateStatus(
          deploymentId, DeploymentStatus.RUNNING, "no GPU free for scale-up: needs 1 × H100", true);
      return;
    }
    if (!scaling.contains(deploymentId)) {
      return;
    }
    var spec = record.spec();
    int needed =
        Math.min(spec.maxWorkers(), (report.total() + spec.concurrency() - 1) / spec.concurrency());
    var count = live.computeIfAbsent(deploymentId, k -> new AtomicInteger());
    while (true) {
      int now = count.get();
      if (now >= needed) {
        return;
      }
      if (count.compareAndSet(now, now + 1)) {
        Thread.ofVirtual().start(() -> startWorker(deploymentId));
      }
    }
  }

  /** Starts a worker and returns once it is recorded healthy. */
  RunningWorker startWorker(String deploymentId) {
    var spec = deployments.findById(deploymentId).orElseThrow().spec();
    int ordinal =
        ordinals.computeIfAbsent(deploymentId, k -> new AtomicInteger()).incrementAndGet();
    String workerId = deploymentId + "-w" + ordinal;
    workers.record(
        new WorkerTransition(
            deploymentId, workerId, ordinal, WorkerStatus.PROVISIONING, null, 0, null, null));
    var worker =
        runtime.start(
            new WorkerLaunchRequest(
                deploymentId,
                workerId,
                spec.framework(),
                spec.model(),
                properties.dataDir().resolve("storage").resolve(deploymentId),
                Map.of(),
                spec.frameworkArgs(),
                null,
                0));
    started.put(workerId, worker);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!runtime.probe(worker)) {
      if (runtime.onExit(workerId).isDone()) {
        throw new IllegalStateException(
            workerId + " exited while starting: " + runtime.logTail(workerId, 5));
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(workerId + " did not become healthy");
      }
      sleep(20);
    }
    workers.record(
        new WorkerTransition(
            deploymentId,
            workerId,
            ordinal,
            WorkerStatus.HEALTHY,
            null,
            0,
            worker.endpoint(),
            null));
    return worker;
  }

  /** SIGKILL, as the OOM killer would. */
  void kill(RunningWorker worker) {
    ProcessHandle.of(worker.pid()).ifPresent(ProcessHandle::destroyForcibly);
  }

  /** Sum of one metric's samples on the worker's engine. */
  double metric(RunningWorker worker, String name) {
    try {
      String body =
          http.send(
                  HttpRequest.newBuilder(URI.create(worker.endpoint() + "/metrics")).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      return body.lines()
          .filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
          .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
          .sum();
    } catch (Exception e) {
      throw new IllegalStateException("cannot read metrics of " + worker.workerId(), e);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void reportWorkerActivity(String workerId, ActivityReport report) {
    activity.add(workerId);
  }

  @Override
  public void start(DeploymentWorkflowInput input) {
    deployments.updateStatus(input.deploymentId(), DeploymentStatus.RUNNING, null);
  }

  @Override
  public void requestDelete(DeploymentWorkflowInput input, DeleteRequest request) {
    deployments.updateStatus(input.deploymentId(), DeploymentStatus.DELETED, null);
  }

  @Override
  public DeploymentState edit(String deploymentId, EditRequest request) {
    throw new UnsupportedOperationException("not used by the inference tests");
  }
}
