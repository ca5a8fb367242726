package dev.gantry.workflows.worker;

import static dev.gantry.workflows.ActivityPolicies.PERMANENT_FAILURES;
import static dev.gantry.workflows.ActivityPolicies.continueAsNewDue;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.api.worker.DrainRequest;
import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerActivities.RecordWorkerInput;
import dev.gantry.api.worker.WorkerActivities.StartWorkerInput;
import dev.gantry.api.worker.WorkerActivities.StartedWorker;
import dev.gantry.api.worker.WorkerActivities.StopEngineInput;
import dev.gantry.api.worker.WorkerActivities.WorkerRef;
import dev.gantry.api.worker.WorkerEndCause;
import dev.gantry.api.worker.WorkerEvent;
import dev.gantry.api.worker.WorkerOutcome;
import dev.gantry.api.worker.WorkerSettings;
import dev.gantry.api.worker.WorkerState;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.api.worker.WorkerWorkflowInput;
import dev.gantry.api.worker.WorkerWorkflowInput.StartMode;
import dev.gantry.workflows.ActivityPolicies;
import dev.gantry.workflows.Signals;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.CompletablePromise;
import io.temporal.workflow.Promise;
import io.temporal.workflow.SignalExternalWorkflowException;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInit;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * One worker's life. While healthy it sleeps on a single timer set to when the worker would become
 * idle; activity reports only move the deadline, so a busy worker costs one workflow task per
 * report and an idle min worker costs none. The runtime signals it when the engine exits, so
 * watching an engine costs no pending activity and no heartbeats.
 */
public class WorkerWorkflowImpl implements WorkerWorkflow {
  private static final Logger log = Workflow.getLogger(WorkerWorkflowImpl.class);

  private static final int HISTORY_LIMIT = 5_000;
  private static final int NOTIFY_ATTEMPTS = 3;
  private static final Duration NOTIFY_RETRY = Duration.ofSeconds(1);

  private final WorkerActivities records =
      Workflow.newActivityStub(WorkerActivities.class, ActivityPolicies.databaseWrites().build());

  private final WorkerActivities lifecycle =
      Workflow.newActivityStub(
          WorkerActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofMinutes(2))
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumInterval(Duration.ofSeconds(10))
                      .setMaximumAttempts(5)
                      .setDoNotRetry(PERMANENT_FAILURES)
                      .build())
              .build());

  /** The start deadline is enforced by the activity (it is per engine); this only bounds it. */
  private final WorkerActivities health =
      Workflow.newActivityStub(
          WorkerActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofHours(2))
              .setHeartbeatTimeout(Duration.ofSeconds(30))
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumAttempts(3)
                      .setDoNotRetry(PERMANENT_FAILURES)
                      .build())
              .build());

  /** Drain (bounded by the runtime's drain timeout) plus the SIGTERM grace. */
  private final WorkerActivities stopping =
      Workflow.newActivityStub(
          WorkerActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofMinutes(10))
              .setHeartbeatTimeout(Duration.ofSeconds(30))
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumInterval(Duration.ofSeconds(30))
                      .setMaximumAttempts(10)
                      .build())
              .build());

  /**
   * Draining for scale-in waits for live generations, bounded by the runtime's scale-in drain
   * timeout (at most {@code MAX_SCALE_IN_DRAIN}); this only bounds the activity, a little beyond.
   */
  private final WorkerActivities scaleInStopping =
      Workflow.newActivityStub(
          WorkerActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofHours(12).plusMinutes(15))
              .setHeartbeatTimeout(Duration.ofSeconds(30))
              // A deletion cancels it (SCALE_IN_YIELDS_TO_DRAIN) and stops the engine again only
              // once it acknowledged, from a heartbeat, so two stops of one engine never overlap.
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumInterval(Duration.ofSeconds(30))
                      .setMaximumAttempts(10)
                      .build())
              .build());

  /** A quick question to the engine; a failure only means "cannot tell". */
  private final WorkerActivities probing =
      Workflow.newActivityStub(
          WorkerActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofSeconds(30))
              .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(2).build())
              .build());

  /** Idle reaping first asks the engine whether it still runs requests. */
  static final String BUSY_CHECK = "idle-reap-asks-in-flight";

  /** Scale-in drains with the scale-in drain timeout. */
  static final String SCALE_IN_DRAIN = "scale-in-drain-timeout";

  /**
   * A drain or an engine exit that arrives while the idle reap asks the engine ({@link
   * #BUSY_CHECK}) ends the worker for that reason, not as idle.
   */
  static final String IDLE_REAP_RECHECK = "idle-reap-rechecks-ends";

  /**
   * A drain request (a deletion) that arrives during a scale-in stop cuts it short: the scale-in
   * stop is cancelled and the engine stopped the normal way, with the deletion's bounded drain.
   */
  static final String SCALE_IN_YIELDS_TO_DRAIN = "scale-in-drain-yields-to-deletion";

  /**
   * A worker let go (no longer kept: the autoscaler's window passed, or min workers were lowered)
   * is reaped when it has been idle for the idle timeout counted from its last use, not a full
   * window from the release; but no sooner than a third of the timeout after the release, the most
   * by which the gateway's activity reports lag ({@code LoadReporter}), so a use just before the
   * release is known first.
   */
  static final String RELEASED_IDLE_FROM_LAST_USE = "released-idle-from-last-use";

  private final WorkerWorkflowInput input;
  private final WorkerRef ref;
  private WorkerStatus status = WorkerStatus.PROVISIONING;
  private String reason;
  private String endpoint;
  private String gpuType;
  private int gpuCount;
  private WorkerSettings settings;
  private boolean settingsChanged;
  private long lastActiveMillis;
  private DrainRequest drainRequest;
  private EngineExited engineExit;

  @WorkflowInit
  public WorkerWorkflowImpl(WorkerWorkflowInput input) {
    this.input = input;
    this.ref = new WorkerRef(input.deploymentId(), input.workerId(), input.engine().framework());
    this.settings = input.settings();
    if (input.start() instanceof StartMode.Continued) {
      // Set before the first signal is handled, so an exit reported right away is not ignored.
      status = WorkerStatus.HEALTHY;
    }
  }

  @Override
  public WorkerOutcome run(WorkerWorkflowInput input) {
    // Shown as the workflow's current details in the Temporal UI. It is answered from memory by the
    // built-in metadata query and adds no command to the history, so replays are unaffected.
    Workflow.setCurrentDetails(details(input));
    return switch (input.start()) {
      case StartMode.Continued continued -> {
        var carried = continued.serving();
        endpoint = carried.endpoint();
        gpuType = carried.gpuType();
        gpuCount = carried.gpuCount();
        lastActiveMillis = carried.lastActiveEpochMillis();
        status = WorkerStatus.HEALTHY;
        yield serveUntilEnd();
      }
      case StartMode.Fresh fresh -> startThenServe();
    };
  }

  /** The worker in words: which deployment's, running what (ids and names only, no env values). */
  static String details(WorkerWorkflowInput input) {
    var engine = input.engine();
    var gpu = engine.gpu();
    return "**Worker** `%s-w%d` of deployment `%s`: %s `%s`, %s"
        .formatted(
            input.deploymentId(),
            input.ordinal(),
            input.deploymentId(),
            engine.framework().wireName(),
            engine.model(),
            gpu == null || gpu.count() == 0 ? "no GPU" : gpu.count() + " × " + gpu.type());
  }

  /** A new worker: starts its engine, waits until it is healthy, then serves. */
  private WorkerOutcome startThenServe() {
    StartedWorker started;
    try {
      started =
          lifecycle.startWorker(
              new StartWorkerInput(
                  input.deploymentId(),
                  input.ordinal(),
                  input.engine(),
                  // The worker's workflow starts when its deployment decides to scale up: the
                  // first step of its cold start. Only the activity's input changes (replay
                  // compares commands, not arguments), so this needs no version marker.
                  Workflow.getInfo().getRunStartedTimestampMillis()));
    } catch (ActivityFailure e) {
      if (FailureType.NO_GPU_CAPACITY.name().equals(failureType(e))) {
        // Nothing started and nothing recorded: the deployment records why it could not scale.
        return end(WorkerStatus.STOPPED, WorkerEndCause.NO_CAPACITY, messageOf(e));
      }
      return fail(messageOf(e));
    }
    endpoint = started.endpoint();
    gpuType = started.gpuType();
    gpuCount = started.gpuCount();

    Promise<Void> healthy = Async.procedure(health::awaitHealthy, ref);
    Workflow.await(() -> healthy.isCompleted() || drainRequest != null);
    if (!healthy.isCompleted()) {
      // Drained while starting: stopping the engine makes the health check end at once.
      stopEngine(false);
      ignoreFailure(healthy);
      return end(WorkerStatus.STOPPED, WorkerEndCause.DRAIN_REQUESTED, drainRequest.reason());
    }
    try {
      healthy.get();
    } catch (ActivityFailure e) {
      return fail(messageOf(e));
    }

    lastActiveMillis = Workflow.currentTimeMillis();
    setStatus(WorkerStatus.HEALTHY, null);
    notifyDeployment(WorkerStatus.HEALTHY, null);
    return serveUntilEnd();
  }

  private WorkerOutcome serveUntilEnd() {
    WorkerEndCause cause = serve();
    if (cause == null) {
      return fail(engineExit.reason());
    }
    boolean scaleIn =
        cause == WorkerEndCause.IDLE
            && Workflow.getVersion(SCALE_IN_DRAIN, Workflow.DEFAULT_VERSION, 1) >= 1;
    setStatus(WorkerStatus.DRAINING, null);
    notifyDeployment(WorkerStatus.DRAINING, cause);
    if (scaleIn) {
      if (Workflow.getVersion(SCALE_IN_YIELDS_TO_DRAIN, Workflow.DEFAULT_VERSION, 1) >= 1) {
        if (scaleInStopUnlessDrained()) {
          cause = WorkerEndCause.DRAIN_REQUESTED;
        }
      } else {
        try {
          scaleInStopping.stopEngine(new StopEngineInput(ref, true, true));
        } catch (ActivityFailure e) {
          log.error("Worker {} could not stop its engine: {}", input.workerId(), messageOf(e));
        }
      }
    } else {
      stopEngine(true);
    }
    String why =
        cause == WorkerEndCause.IDLE
            ? "idle for %d s".formatted(settings.idleTimeoutSeconds())
            : drainRequest.reason();
    return end(WorkerStatus.STOPPED, cause, why);
  }

  /**
   * The scale-in stop (hours, waiting for live generations) unless a drain request (a deletion)
   * arrives meanwhile: then it is cancelled, and once it acknowledged (so two stops never overlap)
   * the engine stops the normal way, with the bounded drain and the SIGTERM grace. Returns whether
   * a drain request cut it short.
   */
  private boolean scaleInStopUnlessDrained() {
    var stopInput = new StopEngineInput(ref, true, true);
    CompletablePromise<Void> stop = Workflow.newPromise();
    CancellationScope scope =
        Workflow.newCancellationScope(
            () -> stop.completeFrom(Async.procedure(scaleInStopping::stopEngine, stopInput)));
    scope.run();
    Workflow.await(() -> stop.isCompleted() || drainRequest != null);
    if (!stop.isCompleted()) {
      scope.cancel("drain requested: " + drainRequest.reason());
      try {
        stop.get();
      } catch (ActivityFailure | CanceledFailure e) {
        // Expected: cancelled, or it ended on its own meanwhile; stopping again is harmless.
      }
      stopEngine(true);
      return true;
    }
    try {
      stop.get();
    } catch (ActivityFailure e) {
      log.error("Worker {} could not stop its engine: {}", input.workerId(), messageOf(e));
    }
    return false;
  }

  /**
   * Waits while the worker serves. Returns why it should drain, or null when the engine exited. The
   * idle deadline is recomputed on every wake-up, so activity reports and edits take effect without
   * arming a timer per report.
   */
  private WorkerEndCause serve() {
    while (true) {
      if (engineExit != null) {
        return null;
      }
      if (drainRequest != null) {
        return WorkerEndCause.DRAIN_REQUESTED;
      }
      if (continueAsNewDue(HISTORY_LIMIT)) {
        Workflow.await(Workflow::isEveryHandlerFinished);
        Workflow.continueAsNew(
            input.continued(
                settings,
                new WorkerWorkflowInput.Serving(endpoint, gpuType, gpuCount, lastActiveMillis)));
      }
      settingsChanged = false;
      if (settings.keepWarm()) {
        Workflow.await(
            () ->
                engineExit != null
                    || drainRequest != null
                    || settingsChanged
                    || continueAsNewDue(HISTORY_LIMIT));
        continue;
      }
      long idleAt = lastActiveMillis + settings.idleTimeoutSeconds() * 1000L;
      long now = Workflow.currentTimeMillis();
      if (now >= idleAt) {
        if (Workflow.getVersion(BUSY_CHECK, Workflow.DEFAULT_VERSION, 1) >= 1 && busy()) {
          // Reports lag (an idle timeout lowered by an edit makes the last one look old): a
          // worker with requests in flight is in use now, whatever they said.
          lastActiveMillis = now;
          continue;
        }
        // The question took an activity, during which a deletion's drain or the engine's exit may
        // have arrived: that end wins over idleness, or the worker would drain with the scale-in
        // flag and bound (hours) instead of the deletion's, or stop as idle instead of failed.
        // Versioned on this path only: histories that never saw such a signal replay unchanged.
        if ((engineExit != null || drainRequest != null)
            && Workflow.getVersion(IDLE_REAP_RECHECK, Workflow.DEFAULT_VERSION, 1) >= 1) {
          // The loop's top ends the worker for the drain or the exit that came during the check.
          continue;
        }
        return WorkerEndCause.IDLE;
      }
      Workflow.await(
          Duration.ofMillis(idleAt - now),
          () ->
              engineExit != null
                  || drainRequest != null
                  || settingsChanged
                  || continueAsNewDue(HISTORY_LIMIT));
    }
  }

  /** Whether the engine runs requests now; an engine that cannot tell counts as idle. */
  private boolean busy() {
    try {
      return probing.inFlight(ref) > 0;
    } catch (ActivityFailure e) {
      log.warn("Worker {} could not count its requests: {}", input.workerId(), messageOf(e));
      return false;
    }
  }

  private WorkerOutcome fail(String why) {
    log.warn("Worker {} failed: {}", input.workerId(), why);
    // Kill whatever is left (a hung engine) and give its GPUs back before reporting.
    stopEngine(false);
    return end(WorkerStatus.FAILED, WorkerEndCause.ENGINE_FAILED, why);
  }

  /**
   * Stops the engine; if even that fails, the worker still ends and reports, and the orphan sweeper
   * stops the engine that no running workflow owns any more.
   */
  private void stopEngine(boolean drain) {
    try {
      stopping.stopEngine(new StopEngineInput(ref, drain));
    } catch (ActivityFailure e) {
      log.error("Worker {} could not stop its engine: {}", input.workerId(), messageOf(e));
    }
  }

  private WorkerOutcome end(WorkerStatus finalStatus, WorkerEndCause cause, String why) {
    if (cause != WorkerEndCause.NO_CAPACITY) {
      setStatus(finalStatus, finalStatus == WorkerStatus.FAILED ? why : null);
    } else {
      status = finalStatus;
      reason = why;
    }
    notifyDeployment(finalStatus, cause, why);
    return new WorkerOutcome(finalStatus, cause, why);
  }

  private void setStatus(WorkerStatus next, String why) {
    status = next;
    reason = why;
    records.recordWorker(
        new RecordWorkerInput(
            input.deploymentId(),
            input.workerId(),
            input.ordinal(),
            next,
            gpuType,
            gpuCount,
            endpoint,
            why,
            input.engine().framework()));
  }

  private void notifyDeployment(WorkerStatus s, WorkerEndCause cause) {
    notifyDeployment(s, cause, null);
  }

  private void notifyDeployment(WorkerStatus s, WorkerEndCause cause, String why) {
    var event = new WorkerEvent(input.ordinal(), s, cause, why);
    for (int attempt = 1; ; attempt++) {
      try {
        Workflow.newExternalWorkflowStub(
                DeploymentWorkflow.class, DeploymentWorkflow.workflowId(input.deploymentId()))
            .workerChanged(event);
        return;
      } catch (SignalExternalWorkflowException | ApplicationFailure e) {
        if (!Signals.targetNotFound(e)) {
          throw e;
        }
        if (attempt >= NOTIFY_ATTEMPTS) {
          // The deployment finished (deleted) and no longer tracks its workers.
          log.info("Deployment {} no longer listens to worker events", input.deploymentId());
          return;
        }
        // Not found can also mean "between two runs" on servers whose continue-as-new is not
        // atomic (the test server's is not); an event lost there would strand the deployment.
        Workflow.sleep(NOTIFY_RETRY);
      }
    }
  }

  private static void ignoreFailure(Promise<?> promise) {
    try {
      promise.get();
    } catch (ActivityFailure e) {
      // Expected: the engine was stopped under the health check.
    }
  }

  private static String failureType(ActivityFailure e) {
    return e.getCause() instanceof ApplicationFailure app ? app.getType() : null;
  }

  private static String messageOf(ActivityFailure e) {
    if (e.getCause() instanceof ApplicationFailure app) {
      return app.getOriginalMessage();
    }
    if (e.getCause() instanceof TimeoutFailure) {
      return "the platform lost track of the engine (activity "
          + e.getActivityType()
          + " timed out)";
    }
    return e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
  }

  @Override
  public void reportActivity(ActivityReport report) {
    lastActiveMillis = Math.max(lastActiveMillis, report.lastActiveEpochMillis());
  }

  @Override
  public void configure(WorkerSettings next) {
    if (settings.keepWarm() && !next.keepWarm()) {
      long now = Workflow.currentTimeMillis();
      if (Workflow.getVersion(RELEASED_IDLE_FROM_LAST_USE, Workflow.DEFAULT_VERSION, 1) >= 1) {
        long idleMillis = next.idleTimeoutSeconds() * 1000L;
        lastActiveMillis = Math.max(lastActiveMillis, now - idleMillis + idleMillis / 3);
      } else {
        // No longer a min worker: it gets a full idle window from now, not from its last request.
        lastActiveMillis = Math.max(lastActiveMillis, now);
      }
    }
    settings = next;
    settingsChanged = true;
  }

  @Override
  public void engineExited(EngineExited exit) {
    // Accepted while provisioning too: the exit may race the health check's completion.
    if (status.current() && status != WorkerStatus.DRAINING && engineExit == null) {
      engineExit = exit;
    }
  }

  @Override
  public void drain(DrainRequest request) {
    if (drainRequest == null) {
      drainRequest = request;
    }
  }

  @Override
  public WorkerState state() {
    return new WorkerState(input.workerId(), status, reason, endpoint, settings, lastActiveMillis);
  }
}
