package dev.gantry.app;

import dev.gantry.activities.worker.EngineWatcher;
import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.runtime.WorkerRuntime;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import jakarta.annotation.PreDestroy;
import java.time.Duration;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * The backstop behind compensation: stops every engine, and closes every worker row, that no
 * running worker workflow owns. After {@code kill -9} of the platform with the embedded Temporal
 * server (whose state was in memory) that is every engine left behind; with an external cluster,
 * running workflows keep theirs, which are watched again (re-adopted), or reported gone if they
 * died meanwhile. Ownership is asked of Temporal, never assumed.
 */
@Component
class WorkerSweeper {
  private static final Logger log = LoggerFactory.getLogger(WorkerSweeper.class);
  static final String LOST_REASON =
      "the platform restarted and no longer owned this worker; it was stopped and is replaced if"
          + " still needed";
  static final String SHUTDOWN_REASON =
      "the platform shut down and stopped this worker's engine; it is replaced if still needed";
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);
  static final String ENGINE_GONE =
      "the engine was no longer running when the platform checked on it (it exited while the"
          + " platform was not watching)";

  private final WorkerRuntime runtime;
  private final WorkerRepository workers;
  private final WorkflowClient client;
  private final GantryProperties properties;
  private final EngineWatcher watcher;

  WorkerSweeper(
      WorkerRuntime runtime,
      EngineWatcher watcher,
      WorkerRepository workers,
      WorkflowClient client,
      GantryProperties properties) {
    this.runtime = runtime;
    this.workers = workers;
    this.client = client;
    this.properties = properties;
    this.watcher = watcher;
  }

  @Scheduled(initialDelay = 60_000, fixedDelay = 60_000)
  void periodically() {
    if (properties.hasRole(GantryProperties.ROLE_ORCHESTRATOR)) {
      sweep();
    }
  }

  /**
   * On a graceful stop, stops this host's engines and closes their rows at once, so billing ends
   * now rather than when the platform next starts. Runs before the runtime's own shutdown.
   */
  @PreDestroy
  void stopEnginesOnShutdown() {
    if (!properties.hasRole(GantryProperties.ROLE_ORCHESTRATOR)) {
      return;
    }
    watcher.stopReporting();
    if (!runtime.enginesStopWithPlatform()) {
      // Pods outlive this process: an orchestrator's rolling restart must not end every worker.
      return;
    }
    boolean embeddedTemporal =
        properties.temporal().target() == null || properties.temporal().target().isBlank();
    var configured = properties.runtime().local().stopGrace();
    var grace = configured.compareTo(SHUTDOWN_GRACE) < 0 ? configured : SHUTDOWN_GRACE;
    // All at once: one by one, every engine that needs its whole grace (or a SIGKILL) would add
    // to the time the platform takes to exit, which must stay bounded however many engines run.
    try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
      for (String workerId : runtime.knownWorkers()) {
        executor.execute(() -> stopOnShutdown(workerId, grace, embeddedTemporal));
      }
    }
  }

  private void stopOnShutdown(String workerId, Duration grace, boolean embeddedTemporal) {
    try {
      runtime.stop(workerId, grace);
      if (embeddedTemporal) {
        // Its workflow dies with this process; only the row is left to close.
        workers.markStopped(workerId, SHUTDOWN_REASON);
      } else {
        // Its workflow lives on in the cluster: tell it, so it ends and is replaced.
        watcher.report(workerId, new EngineExited(-1, SHUTDOWN_REASON));
      }
    } catch (RuntimeException e) {
      log.warn("Could not stop or close worker {} at shutdown; the next sweep does", workerId, e);
    }
  }

  /** Returns how many engines it stopped. */
  int sweep() {
    int stopped = 0;
    for (String workerId : runtime.knownWorkers()) {
      if (!owned(workerId)) {
        log.warn("Stopping engine of worker {}: no workflow owns it", workerId);
        runtime.stop(workerId, properties.runtime().local().stopGrace());
        stopped++;
      }
    }
    for (var row : workers.listCurrent()) {
      if (!owned(row.id())) {
        workers.markStopped(row.id(), LOST_REASON);
      } else if (row.status() == WorkerStatus.HEALTHY) {
        // Owned and serving: watch its engine (after a restart this re-adopts it), or report it
        // gone if it died while nobody watched.
        if (runtime.find(row.id()).isPresent()) {
          watcher.watch(row.id());
        } else {
          watcher.report(row.id(), new EngineExited(-1, ENGINE_GONE));
        }
      }
    }
    return stopped;
  }

  private boolean owned(String workerId) {
    try {
      var description =
          client.newUntypedWorkflowStub(WorkerWorkflow.workflowIdOf(workerId)).describe();
      return description.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
    } catch (WorkflowNotFoundException e) {
      return false;
    }
  }
}
