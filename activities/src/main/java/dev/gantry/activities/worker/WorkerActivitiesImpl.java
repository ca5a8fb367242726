package dev.gantry.activities.worker;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.db.WorkerRepository.WorkerTransition;
import dev.gantry.infra.metrics.ColdStartMeters;
import dev.gantry.infra.metrics.ColdStartMeters.Phase;
import dev.gantry.infra.routing.LocalRouting;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.runtime.WorkerRuntimeException;
import dev.gantry.infra.secrets.SecretStore;
import dev.gantry.infra.storage.DeploymentStorage;
import io.temporal.activity.Activity;
import io.temporal.failure.ApplicationFailure;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/** A worker's side effects over the {@link WorkerRuntime}; failures carry a {@link FailureType}. */
@Component("workerActivities")
public class WorkerActivitiesImpl implements WorkerActivities {
  private static final Logger log = LoggerFactory.getLogger(WorkerActivitiesImpl.class);
  private static final int LOG_LINES_IN_REASONS = 15;

  /**
   * How often a starting engine is probed. Every pause between probes is added to the cold start of
   * a worker whose engine is ready in the middle of it (a backoff to 1 s added half a second on
   * average); a probe of an engine not listening yet is a refused connection, one still loading a
   * single local request, so probing often costs next to nothing.
   */
  static final Duration START_PROBE_INTERVAL = Duration.ofMillis(50);

  private final WorkerRuntime runtime;
  private final DeploymentStorage storage;
  private final SecretStore secrets;
  private final WorkerRepository workers;
  private final EngineWatcher watcher;
  private final GantryProperties.Local settings;
  private final Duration routingGrace;
  private final ColdStartMeters meters;
  private final Clock clock;
  private final DeploymentRepository deployments;
  private final LocalRouting localRouting;

  public WorkerActivitiesImpl(
      WorkerRuntime runtime,
      DeploymentStorage storage,
      SecretStore secrets,
      WorkerRepository workers,
      EngineWatcher watcher,
      GantryProperties properties,
      ColdStartMeters meters,
      Clock clock,
      DeploymentRepository deployments,
      ObjectProvider<LocalRouting> localRouting) {
    this.meters = meters;
    this.clock = clock;
    this.deployments = deployments;
    this.localRouting = localRouting == null ? null : localRouting.getIfAvailable();
    this.runtime = runtime;
    this.storage = storage;
    this.secrets = secrets;
    this.workers = workers;
    this.watcher = watcher;
    this.settings = properties.runtime().local();
    // Gateways re-read their routing table at this period: after it, none sends new requests here.
    this.routingGrace = properties.gateway().routeRefresh().multipliedBy(2);
  }

  @Override
  public StartedWorker startWorker(StartWorkerInput input) {
    String workerId = WorkerWorkflow.workerId(input.deploymentId(), input.ordinal());
    var engine = input.engine();
    // Resolved here and handed straight to the process: secret values never leave this call.
    Map<String, String> env =
        engine.secretRef() == null
            ? Map.of()
            : secrets.resolve(engine.secretRef()).orElse(Map.of());
    RunningWorker running;
    try {
      running =
          runtime.start(
              new WorkerLaunchRequest(
                  input.deploymentId(),
                  workerId,
                  engine.framework(),
                  engine.model(),
                  storage.pathOf(input.deploymentId()),
                  env,
                  engine.frameworkArgs(),
                  engine.gpu(),
                  concurrencyOf(input.deploymentId())));
    } catch (WorkerRuntimeException e) {
      throw failure(e.type(), e.getMessage());
    }
    // A retried start finds its engine already running; the first attempt's instants are kept.
    Instant processStarted = clock.instant();
    Instant decided =
        input.decidedAtEpochMillis() > 0
            ? Instant.ofEpochMilli(input.decidedAtEpochMillis())
            : null;
    boolean firstStart = workers.find(workerId).map(w -> w.processStartedAt() == null).orElse(true);
    workers.record(
        new WorkerTransition(
            input.deploymentId(),
            workerId,
            input.ordinal(),
            WorkerStatus.PROVISIONING,
            running.gpuType(),
            running.gpuCount(),
            running.endpoint(),
            null,
            decided,
            processStarted));
    if (firstStart) {
      meters.record(engine.framework(), Phase.PROVISION, decided, processStarted);
    }
    log.info("Worker {} started its engine at {}", workerId, running.endpoint());
    return new StartedWorker(running.endpoint(), running.gpuType(), running.gpuCount());
  }

  @Override
  public void awaitHealthy(WorkerRef worker) {
    Duration timeout = startTimeout(worker.framework());
    Instant deadline = Instant.now().plus(timeout);
    var context = Activity.getExecutionContext();
    while (true) {
      var running = runtime.find(worker.workerId());
      if (running.isEmpty()) {
        var exit = runtime.onExit(worker.workerId()).join();
        throw failure(
            FailureType.ENGINE_FAILED, "the engine exited while starting: " + exit.reason());
      }
      if (runtime.probe(running.get())) {
        watcher.watch(worker.workerId());
        return;
      }
      if (Instant.now().isAfter(deadline)) {
        throw failure(
            FailureType.ENGINE_FAILED,
            "the engine did not become healthy within %d s; last log lines:%n%s"
                .formatted(
                    timeout.toSeconds(), runtime.logTail(worker.workerId(), LOG_LINES_IN_REASONS)));
      }
      context.heartbeat(null);
      LockSupport.parkNanos(START_PROBE_INTERVAL.toNanos());
    }
  }

  private boolean localGatewayStoppedRouting(WorkerRef worker) {
    if (localRouting == null) {
      return false;
    }
    try {
      return localRouting.noLongerRoutes(worker.deploymentId(), worker.workerId());
    } catch (RuntimeException e) {
      log.debug("could not ask the local gateway about worker {}", worker.workerId(), e);
      return false;
    }
  }

  /**
   * The deployment's {@code concurrency} now (an edit counts from the next worker on), which sizes
   * the engine's batch; 0, the engine's own default, when the record cannot be read.
   */
  private int concurrencyOf(String deploymentId) {
    if (deployments == null) {
      return 0;
    }
    try {
      return deployments.findById(deploymentId).map(d -> d.spec().concurrency()).orElse(0);
    } catch (RuntimeException e) {
      log.warn("could not read deployment {} for its concurrency", deploymentId, e);
      return 0;
    }
  }

  @Override
  public void stopEngine(StopEngineInput input) {
    String workerId = input.worker().workerId();
    var context = Activity.getExecutionContext();
    if (input.drain()) {
      var running = runtime.find(workerId);
      if (running.isPresent()) {
        // The worker is recorded draining; requests routed before gateways saw that may still
        // be on their way, so count in-flight requests only after the gateways caught up: at
        // once when the only gateway is this process's and says so, else after a refresh of all.
        context.heartbeat(null);
        if (!localGatewayStoppedRouting(input.worker())) {
          LockSupport.parkNanos(routingGrace.toNanos());
        }
      }
      Duration bound = input.scaleIn() ? settings.scaleInDrainTimeout() : settings.drainTimeout();
      Instant deadline = Instant.now().plus(bound);
      while (running.isPresent() && Instant.now().isBefore(deadline)) {
        int inFlight = runtime.inFlight(running.get()).orElse(0);
        if (inFlight == 0) {
          break;
        }
        context.heartbeat(inFlight);
        LockSupport.parkNanos(Duration.ofMillis(250).toNanos());
      }
    }
    context.heartbeat(null);
    runtime.stop(workerId, settings.stopGrace());
  }

  @Override
  public int inFlight(WorkerRef worker) {
    return runtime.find(worker.workerId()).flatMap(runtime::inFlight).orElse(-1);
  }

  @Override
  public void recordWorker(RecordWorkerInput input) {
    boolean becomesHealthy =
        input.status() == WorkerStatus.HEALTHY
            && workers.find(input.workerId()).map(w -> w.healthyAt() == null).orElse(true);
    workers.record(
        new WorkerTransition(
            input.deploymentId(),
            input.workerId(),
            input.ordinal(),
            input.status(),
            input.gpuType(),
            input.gpuCount(),
            input.endpoint(),
            input.reason()));
    if (becomesHealthy) {
      workers
          .find(input.workerId())
          .ifPresent(
              w ->
                  meters.record(
                      input.framework(), Phase.BOOT, w.processStartedAt(), w.healthyAt()));
    }
  }

  private Duration startTimeout(Framework framework) {
    return framework == Framework.SIM ? settings.simStartTimeout() : settings.engineStartTimeout();
  }

  private static ApplicationFailure failure(FailureType type, String message) {
    return type.permanent()
        ? ApplicationFailure.newNonRetryableFailure(message, type.name())
        : ApplicationFailure.newFailure(message, type.name());
  }
}
