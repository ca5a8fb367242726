package dev.gantry.workflows.deployment;

import static dev.gantry.workflows.ActivityPolicies.PERMANENT_FAILURES;
import static dev.gantry.workflows.ActivityPolicies.continueAsNewDue;

import dev.gantry.api.TaskQueues;
import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentActivities;
import dev.gantry.api.deployment.DeploymentActivities.RecordSpecInput;
import dev.gantry.api.deployment.DeploymentActivities.RecordStatusInput;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.DeploymentWorkflowInput.StartMode;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.EditRules;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.api.deployment.ModelActivities.PrepareModelInput;
import dev.gantry.api.deployment.ServingState;
import dev.gantry.api.deployment.ServingState.WorkerSlot;
import dev.gantry.api.deployment.StorageActivities;
import dev.gantry.api.deployment.StorageActivities.StorageRequest;
import dev.gantry.api.worker.DrainRequest;
import dev.gantry.api.worker.WorkerEvent;
import dev.gantry.api.worker.WorkerSettings;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.api.worker.WorkerWorkflowInput;
import dev.gantry.autoscaler.Autoscaler;
import dev.gantry.autoscaler.Decision;
import dev.gantry.autoscaler.Fleet;
import dev.gantry.workflows.ActivityPolicies;
import dev.gantry.workflows.Signals;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.ParentClosePolicy;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.ChildWorkflowFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.ChildWorkflowOptions;
import io.temporal.workflow.Promise;
import io.temporal.workflow.Saga;
import io.temporal.workflow.SignalExternalWorkflowException;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInit;
import io.temporal.workflow.WorkflowLock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;

/**
 * Owns one deployment. Provisioning is a saga whose compensations are registered before the step
 * they undo and run in a detached scope, so cleanup also happens when the deployment is deleted
 * mid-way. While running, the serving loop keeps {@code min_workers} up, scales out on demand
 * reports, and replaces failed workers with backoff; workers reap themselves when idle.
 */
public class DeploymentWorkflowImpl implements DeploymentWorkflow {
  private static final Logger log = Workflow.getLogger(DeploymentWorkflowImpl.class);

  private static final int DEFAULT_HISTORY_LIMIT = 5_000;
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(5);
  private static final Duration MAX_BACKOFF = Duration.ofMinutes(5);
  private static final Duration DRAIN_BOUND = Duration.ofMinutes(10);

  private final DeploymentActivities deployments =
      Workflow.newActivityStub(
          DeploymentActivities.class,
          ActivityPolicies.databaseWrites()
              // Waiting keeps status writes in order when deletion cancels provisioning.
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .build());

  private final StorageActivities storage =
      Workflow.newActivityStub(
          StorageActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofMinutes(2))
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumInterval(Duration.ofSeconds(30))
                      .setMaximumAttempts(10)
                      .setDoNotRetry(PERMANENT_FAILURES)
                      .build())
              .build());

  /** Model downloads are long: they heartbeat progress and resume from it on retry. */
  private final ModelActivities models =
      Workflow.newActivityStub(ModelActivities.class, modelOptions(Duration.ofMinutes(1)).build());

  /**
   * Model downloads on their own task queue. The heartbeat timeout is short because cancellation (a
   * delete) reaches an activity only through its heartbeats, which the SDK throttles to a fraction
   * of this timeout; every download step heartbeats, the listing included.
   */
  private final ModelActivities downloads =
      Workflow.newActivityStub(
          ModelActivities.class,
          modelOptions(Duration.ofSeconds(10)).setTaskQueue(TaskQueues.DOWNLOADS).build());

  /** Long, heartbeating, resumed on retry (8 attempts with backoff); permanent failures end it. */
  private static ActivityOptions.Builder modelOptions(Duration heartbeatTimeout) {
    return ActivityOptions.newBuilder()
        .setStartToCloseTimeout(Duration.ofHours(6))
        .setHeartbeatTimeout(heartbeatTimeout)
        .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        .setRetryOptions(
            RetryOptions.newBuilder()
                .setInitialInterval(Duration.ofSeconds(2))
                .setMaximumInterval(Duration.ofMinutes(1))
                .setMaximumAttempts(8)
                .setDoNotRetry(PERMANENT_FAILURES)
                .build());
  }

  /**
   * Deletion cancels a running download; a tenant over its download share waits in the workflow.
   */
  static final String CANCELLABLE_DOWNLOAD = "cancellable-download";

  /**
   * Deletion drains workers already draining too: one in a scale-in drain (hours) then stops with
   * the deletion's bounded drain, before storage is removed.
   */
  static final String DELETE_DRAINS_DRAINING = "delete-drains-draining-workers";

  /**
   * The LLM-aware autoscaler ({@link Autoscaler}): demand is sized at the target utilization, the
   * workers a recent peak needed are kept through the scale-down delay (the others reap themselves
   * when idle), and cold starts are measured. Before it, a burst raised the target and only reaping
   * lowered it, and only min workers were kept.
   */
  static final String LLM_AUTOSCALER = "llm-autoscaler";

  private static final Duration SLOT_FIRST_WAIT = Duration.ofSeconds(5);
  private static final Duration SLOT_MAX_WAIT = Duration.ofMinutes(1);

  private final WorkflowLock lock = Workflow.newWorkflowLock();
  private final DeploymentWorkflowInput input;
  private final String deploymentId;
  private final int historyLimit;
  private DeploymentSpec spec;
  private DeploymentStatus status = DeploymentStatus.STARTING;
  private String statusReason;
  private DeleteRequest deleteRequest;

  // The autoscaler's state; see ServingState for what each field means.
  private final Map<Integer, Slot> workers = new TreeMap<>();
  private final Map<Integer, Promise<WorkflowExecution>> childStarts = new TreeMap<>();
  private int nextOrdinal;
  private int wanted;
  private int consecutiveFailures;
  private long notBeforeMillis;
  private String scaleUpBlockedReason;
  private int scaleUpBlockedOrdinal;

  /** The refusal last written to the database; not carried over, a new run starts recorded. */
  private int recordedBlockedOrdinal;

  private String lastFailureReason;
  private boolean changed;

  /** The autoscaler's memory, carried across continue-as-new. */
  private Autoscaler autoscaler = Autoscaler.IDLE;

  /** Whether this run uses {@link #LLM_AUTOSCALER}; asked once, when first needed. */
  private Boolean scalerOn;

  /** When {@code wanted} may next fall without new demand (the autoscaler's review time). */
  private long reviewAtMillis = Long.MAX_VALUE;

  /** A current worker: its ordinal, last reported status and whether it is a min worker. */
  private static final class Slot {
    final int ordinal;
    WorkerStatus status;
    boolean keepWarm;

    /** When this run decided to start it; 0 for a worker carried from an earlier run. */
    long decidedAtMillis;

    Slot(int ordinal, WorkerStatus status, boolean keepWarm) {
      this.ordinal = ordinal;
      this.status = status;
      this.keepWarm = keepWarm;
    }

    boolean live() {
      return status == WorkerStatus.PROVISIONING || status == WorkerStatus.HEALTHY;
    }
  }

  @WorkflowInit
  public DeploymentWorkflowImpl(DeploymentWorkflowInput input) {
    this.input = input;
    this.deploymentId = input.deploymentId();
    this.spec = input.spec();
    this.nextOrdinal = input.nextWorkerOrdinal();
    this.historyLimit = input.historyLimit() > 0 ? input.historyLimit() : DEFAULT_HISTORY_LIMIT;
    if (input.start() instanceof StartMode.Continued(var carried)) {
      status = carried.status();
      statusReason = carried.statusReason();
      carried
          .workers()
          .forEach(w -> workers.put(w.ordinal(), new Slot(w.ordinal(), w.status(), w.keepWarm())));
      wanted = carried.wanted();
      consecutiveFailures = carried.consecutiveFailures();
      notBeforeMillis = carried.notBeforeEpochMillis();
      scaleUpBlockedReason = carried.scaleUpBlockedReason();
      scaleUpBlockedOrdinal = carried.scaleUpBlockedOrdinal();
      recordedBlockedOrdinal = scaleUpBlockedOrdinal;
      lastFailureReason = carried.lastFailureReason();
      if (carried.autoscaler() != null) {
        autoscaler = carried.autoscaler();
      }
    }
  }

  /** Whether this run scales with the {@link Autoscaler}; old histories replay without it. */
  private boolean autoscalerOn() {
    if (scalerOn == null) {
      scalerOn = Workflow.getVersion(LLM_AUTOSCALER, Workflow.DEFAULT_VERSION, 1) >= 1;
    }
    return scalerOn;
  }

  @Override
  public DeploymentState run(DeploymentWorkflowInput input) {
    switch (input.start()) {
      // Continued as new while serving: the workers are still running under this deployment.
      case StartMode.Continued continued -> serve();
      case StartMode.Recovered recovered -> resume(recovered);
      case StartMode.Fresh fresh -> provisionThenServe();
    }
    // A failed deployment waits for nothing but its deletion, which costs Temporal no timers.
    Workflow.await(() -> deleteRequest != null);
    Workflow.await(Workflow::isEveryHandlerFinished);
    tearDown();
    return state();
  }

  /** Restarted from the database: goes on from the recorded status. */
  private void resume(StartMode.Recovered recovered) {
    switch (recovered.status()) {
      case FAILED, CLEANING -> {
        // Failed before the restart: finish the clean-up (idempotent) and stay failed.
        status = DeploymentStatus.FAILED;
        statusReason = recovered.reason();
        Workflow.newDetachedCancellationScope(
                () -> {
                  storage.removeStorage(new StorageRequest(deploymentId, spec.storageGb()));
                  transition(DeploymentStatus.FAILED, recovered.reason());
                })
            .run();
      }
      case DELETING -> requestDelete(new DeleteRequest("recovery"));
      case RUNNING -> {
        // Storage and model are in place; the deployment keeps serving without walking its
        // provisioning states again, and its min workers are started anew.
        status = DeploymentStatus.RUNNING;
        statusReason = recovered.reason();
        serve();
      }
      // Interrupted while provisioning: every step is idempotent. (The reconciler never restarts
      // a deleted deployment; were it to, it would provision as it always did.)
      case STARTING, FILESYSTEM_CREATED, DOWNLOADING_MODEL, MODEL_DOWNLOADED, DELETED ->
          provisionThenServe();
    }
  }

  private void provisionThenServe() {
    if (deleteRequest == null) {
      provision();
    }
    if (status == DeploymentStatus.RUNNING) {
      serve();
    }
  }

  /**
   * The serving loop: starts workers up to what demand wants, replaces failed ones after a backoff,
   * and otherwise sleeps until a signal changes something. Scale-in happens only through workers
   * reaping themselves when idle. It sets no timer of its own except a pending backoff.
   */
  private void serve() {
    wanted = clamp(wanted);
    if (autoscalerOn()) {
      serveScaled();
      return;
    }
    while (deleteRequest == null) {
      // Cleared before reconciling: a signal that arrives while it runs activities must wake the
      // next wait, not be forgotten.
      changed = false;
      reconcile();
      if (continueAsNewDue(historyLimit)) {
        continueAsNew();
      }
      long waitMillis = pendingStarts() > 0 ? notBeforeMillis - Workflow.currentTimeMillis() : 0;
      if (changed || pendingStarts() > 0 && waitMillis <= 0) {
        continue;
      }
      // Signals that change nothing still add history; the length check keeps it bounded.
      if (waitMillis > 0) {
        Workflow.await(
            Duration.ofMillis(waitMillis),
            () -> changed || deleteRequest != null || continueAsNewDue(historyLimit));
      } else {
        Workflow.await(() -> changed || deleteRequest != null || continueAsNewDue(historyLimit));
      }
    }
  }

  /**
   * The serving loop under the {@link Autoscaler}: like the one before it, and it also wakes when
   * the recent peak leaves the scale-down window, to let the workers it kept go.
   */
  private void serveScaled() {
    while (deleteRequest == null) {
      changed = false;
      rescale();
      reconcile();
      if (continueAsNewDue(historyLimit)) {
        continueAsNew();
      }
      long now = Workflow.currentTimeMillis();
      long wakeAt = reviewAtMillis;
      if (pendingStarts() > 0) {
        if (notBeforeMillis <= now) {
          continue;
        }
        wakeAt = Math.min(wakeAt, notBeforeMillis);
      }
      if (changed) {
        continue;
      }
      if (wakeAt != Long.MAX_VALUE) {
        Workflow.await(
            Duration.ofMillis(Math.max(1, wakeAt - now)),
            () -> changed || deleteRequest != null || continueAsNewDue(historyLimit));
      } else {
        Workflow.await(() -> changed || deleteRequest != null || continueAsNewDue(historyLimit));
      }
    }
  }

  /** Sets {@code wanted} to what the autoscaler wants now. */
  private void rescale() {
    Decision decision =
        autoscaler.decide(spec.scalingPolicy(), Workflow.currentTimeMillis(), fleet());
    wanted = decision.desired();
    reviewAtMillis = decision.reviewAtMillis();
  }

  private Fleet fleet() {
    int starting = 0;
    int ready = 0;
    for (Slot w : workers.values()) {
      if (w.status == WorkerStatus.PROVISIONING) {
        starting++;
      } else if (w.status == WorkerStatus.HEALTHY) {
        ready++;
      }
    }
    return new Fleet(starting, ready);
  }

  private void reconcile() {
    int toStart = pendingStarts();
    if (toStart > 0 && Workflow.currentTimeMillis() >= notBeforeMillis) {
      for (int i = 0; i < toStart; i++) {
        startWorker();
      }
    }
    assignKeepWarm();
    String reason = servingReason();
    // Every refusal is written (with its time), not only a changed reason: requests that started
    // waiting before it are answered 503 by the gateway.
    if (!Objects.equals(reason, statusReason) || scaleUpBlockedOrdinal != recordedBlockedOrdinal) {
      recordedBlockedOrdinal = scaleUpBlockedOrdinal;
      status = DeploymentStatus.RUNNING;
      statusReason = reason;
      deployments.recordStatus(
          new RecordStatusInput(deploymentId, status, reason, scaleUpBlockedReason != null));
    }
  }

  private int pendingStarts() {
    return wanted - liveWorkers();
  }

  private int liveWorkers() {
    return (int) workers.values().stream().filter(Slot::live).count();
  }

  private int clamp(int count) {
    return Math.max(spec.minWorkers(), Math.min(spec.maxWorkers(), count));
  }

  private void startWorker() {
    int ordinal = nextOrdinal++;
    var slot = new Slot(ordinal, WorkerStatus.PROVISIONING, false);
    slot.decidedAtMillis = Workflow.currentTimeMillis();
    workers.put(ordinal, slot);
    slot.keepWarm = keepWarmOrdinals().contains(ordinal);
    var child =
        Workflow.newChildWorkflowStub(
            WorkerWorkflow.class,
            ChildWorkflowOptions.newBuilder()
                .setWorkflowId(WorkerWorkflow.workflowId(deploymentId, ordinal))
                // Workers outlive this run when it continues as new; they report by signal.
                .setParentClosePolicy(ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON)
                .build());
    Async.function(
        child::run,
        WorkerWorkflowInput.fresh(
            deploymentId,
            ordinal,
            spec.engine(input.secretRef()),
            new WorkerSettings(spec.idleTimeoutSeconds(), slot.keepWarm)));
    childStarts.put(ordinal, Workflow.getWorkflowExecution(child));
  }

  /**
   * The oldest live workers are kept: the min workers, and under the autoscaler the {@code wanted}
   * ones (routing fills the oldest first, so the others are the ones demand has left and may go).
   */
  private List<Integer> keepWarmOrdinals() {
    var live = workers.values().stream().filter(Slot::live).map(w -> w.ordinal).toList();
    if (scalerOn != null && scalerOn) {
      var mayGo = Autoscaler.mayGo(wanted, live);
      return live.subList(0, live.size() - mayGo.size());
    }
    return live.stream().limit(spec.minWorkers()).toList();
  }

  private void assignKeepWarm() {
    var keep = keepWarmOrdinals();
    for (Slot w : List.copyOf(workers.values())) {
      boolean shouldKeep = keep.contains(w.ordinal);
      if (w.live() && w.keepWarm != shouldKeep) {
        w.keepWarm = shouldKeep;
        signalWorker(w, stub -> stub.configure(settingsOf(w)));
      }
    }
  }

  private WorkerSettings settingsOf(Slot w) {
    return new WorkerSettings(spec.idleTimeoutSeconds(), w.keepWarm);
  }

  /** Signals a worker; one that already ended is forgotten instead. */
  private void signalWorker(Slot w, java.util.function.Consumer<WorkerWorkflow> signal) {
    awaitChildStarts();
    try {
      signal.accept(
          Workflow.newExternalWorkflowStub(
              WorkerWorkflow.class, WorkerWorkflow.workflowId(deploymentId, w.ordinal)));
    } catch (SignalExternalWorkflowException | ApplicationFailure e) {
      if (!Signals.targetNotFound(e)) {
        throw e;
      }
      log.info("Worker {} of {} has already ended", w.ordinal, deploymentId);
      workers.remove(w.ordinal);
      changed = true;
    }
  }

  /** Waits until every child started so far exists, so it can be signalled. */
  private void awaitChildStarts() {
    // A snapshot: an update handler may start or await children while this one waits.
    var pending = Map.copyOf(childStarts);
    childStarts.keySet().removeAll(pending.keySet());
    pending.forEach(
        (ordinal, started) -> {
          try {
            started.get();
          } catch (ChildWorkflowFailure e) {
            // It never ran, so it will never report: forget it, and let reconcile start another.
            log.warn(
                "Worker {} of {} could not be started: {}", ordinal, deploymentId, e.getMessage());
            workers.remove(ordinal);
            changed = true;
          }
        });
  }

  /** What a running deployment's status reason says: refused scale-ups and repeated failures. */
  private String servingReason() {
    if (scaleUpBlockedReason != null) {
      return scaleUpBlockedReason;
    }
    if (consecutiveFailures >= 2) {
      return "workers keep failing (%d in a row), retrying with backoff; last: %s"
          .formatted(consecutiveFailures, lastFailureReason);
    }
    return null;
  }

  private void continueAsNew() {
    awaitChildStarts();
    Workflow.await(Workflow::isEveryHandlerFinished);
    var carried =
        new ServingState(
            status,
            statusReason,
            workers.values().stream()
                .map(w -> new WorkerSlot(w.ordinal, w.status, w.keepWarm))
                .toList(),
            nextOrdinal,
            wanted,
            consecutiveFailures,
            notBeforeMillis,
            scaleUpBlockedReason,
            scaleUpBlockedOrdinal,
            lastFailureReason,
            scalerOn != null && scalerOn ? autoscaler : null);
    Workflow.continueAsNew(input.continued(spec, carried));
  }

  @Override
  public void reportDemand(DemandReport report) {
    if (status != DeploymentStatus.RUNNING || deleteRequest != null) {
      return;
    }
    if (autoscalerOn()) {
      autoscaler =
          autoscaler.observe(
              spec.scalingPolicy(),
              Workflow.currentTimeMillis(),
              report.source(),
              report.demand(),
              fleet());
      int before = wanted;
      rescale();
      // A report that changes nothing wakes nothing: the loop's review timer covers the window.
      if (wanted != before) {
        changed = true;
      }
      return;
    }
    int needed = clamp(ceilDiv(report.total(), spec.concurrency()));
    if (needed > wanted) {
      // A burst scales straight to what it needs, not one worker per report.
      wanted = needed;
      changed = true;
    }
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }

  @Override
  public void workerChanged(WorkerEvent event) {
    Slot w = workers.get(event.ordinal());
    if (w == null) {
      return;
    }
    boolean wasLive = w.live();
    switch (event.status()) {
      case HEALTHY -> {
        if (w.status == WorkerStatus.PROVISIONING
            && w.decidedAtMillis > 0
            && scalerOn != null
            && scalerOn) {
          autoscaler = autoscaler.coldStarted(Workflow.currentTimeMillis() - w.decidedAtMillis);
        }
        w.status = WorkerStatus.HEALTHY;
        consecutiveFailures = 0;
        notBeforeMillis = 0;
        lastFailureReason = null;
        if (event.ordinal() > scaleUpBlockedOrdinal) {
          // Only a worker started after the refusal shows that GPUs are free again.
          scaleUpBlockedReason = null;
        }
      }
      case DRAINING -> w.status = WorkerStatus.DRAINING;
      case STOPPED, FAILED -> {
        w.status = event.status();
        workers.remove(event.ordinal());
      }
      default -> {}
    }
    if (wasLive && !w.live()) {
      left(event);
    }
    changed = true;
  }

  /** A live worker left: reaped ones lower the target, failed ones are replaced after a backoff. */
  private void left(WorkerEvent event) {
    if (event.cause() == null) {
      return;
    }
    switch (event.cause()) {
      // Under the autoscaler, wanted is its decision alone; a reaped worker was one it let go.
      case IDLE -> wanted = scalerOn != null && scalerOn ? wanted : clamp(wanted - 1);
      case NO_CAPACITY -> {
        // The demand it was for is answered 503 by the gateway and comes back as new demand.
        wanted = clamp(wanted - 1);
        scaleUpBlockedReason = event.reason();
        // Workers started before this refusal (some may still become healthy) say nothing about
        // whether GPUs are free now; only one started after it does.
        scaleUpBlockedOrdinal = Math.max(scaleUpBlockedOrdinal, nextOrdinal - 1);
        backOff();
      }
      case ENGINE_FAILED -> {
        lastFailureReason = event.reason();
        backOff();
      }
      case DRAIN_REQUESTED -> {}
    }
  }

  private void backOff() {
    consecutiveFailures++;
    long delay =
        Math.min(
            MAX_BACKOFF.toMillis(),
            FIRST_BACKOFF.toMillis() << Math.min(16, consecutiveFailures - 1));
    notBeforeMillis = Workflow.currentTimeMillis() + delay;
  }

  private void provision() {
    Saga saga = new Saga(new Saga.Options.Builder().setContinueWithError(true).build());
    var storageRequest = new StorageRequest(deploymentId, spec.storageGb());
    try {
      // Registered first: a create that times out may still have made the directory.
      saga.addCompensation(storage::removeStorage, storageRequest);
      var location = storage.createStorage(storageRequest).location();
      if (deleteRequested()) {
        return;
      }
      transition(DeploymentStatus.FILESYSTEM_CREATED, null);
      transition(DeploymentStatus.DOWNLOADING_MODEL, null);
      var modelRequest =
          new PrepareModelInput(
              deploymentId, spec.engine(input.secretRef()), location, spec.storageGb());
      if (Workflow.getVersion(CANCELLABLE_DOWNLOAD, Workflow.DEFAULT_VERSION, 1)
          == Workflow.DEFAULT_VERSION) {
        // Histories recorded before deletion could cancel a download replay as they ran.
        models.prepareModel(modelRequest);
      } else {
        prepareModelUnlessDeleted(modelRequest);
      }
      if (deleteRequested()) {
        return;
      }
      transition(DeploymentStatus.MODEL_DOWNLOADED, null);
      transition(DeploymentStatus.RUNNING, null);
    } catch (ActivityFailure e) {
      if (deleteRequested()) {
        return;
      }
      String reason = reasonFor(e);
      log.warn("Deployment {} failed: {}", deploymentId, reason);
      Workflow.newDetachedCancellationScope(
              () -> {
                transition(DeploymentStatus.CLEANING, reason);
                saga.compensate();
                transition(DeploymentStatus.FAILED, reason);
              })
          .run();
    }
  }

  /**
   * Prepares the model in a scope that a deletion cancels: a download in progress learns it from
   * its next heartbeat and stops, one waiting in retry backoff or for a tenant slot stops at once.
   * Cancellation waits for the activity to acknowledge it, so no download writes into storage after
   * the tear-down removed it. Returns normally when deleted (the caller checks), else as the
   * download ended.
   */
  private void prepareModelUnlessDeleted(PrepareModelInput request) {
    if (spec.framework() == Framework.SIM) {
      // sim needs no download: it stays on the control queue, never waits behind downloads, and
      // takes milliseconds, so a delete simply follows it.
      models.prepareModel(request);
      return;
    }
    List<Promise<Void>> done = new java.util.ArrayList<>(1);
    CancellationScope scope =
        Workflow.newCancellationScope(
            () -> done.add(Async.procedure(() -> prepareWhenSlotFree(downloads, request))));
    scope.run();
    Workflow.await(() -> done.getFirst().isCompleted() || deleteRequested());
    if (!done.getFirst().isCompleted()) {
      // Shown at once. The write also gives a download that is finishing right now the chance to
      // report first: cancelling an activity in the same task as its completion arrives is
      // harmless on a Temporal server but wedges the SDK's time-skipping test server.
      transition(DeploymentStatus.DELETING, null);
    }
    if (!done.getFirst().isCompleted()) {
      scope.cancel("the deployment is being deleted");
    }
    try {
      done.getFirst().get();
    } catch (ActivityFailure | CanceledFailure e) {
      if (!deleteRequested()) {
        throw e;
      }
    }
  }

  /**
   * Calls the download until it ran: a tenant that already runs its share of downloads is told to
   * come back, and waits here (visible in the status reason) without holding an activity slot.
   */
  private void prepareWhenSlotFree(ModelActivities stub, PrepareModelInput request) {
    Duration wait = SLOT_FIRST_WAIT;
    while (true) {
      var info = stub.prepareModel(request);
      if (info == null || info.waitingFor() == null) {
        return;
      }
      if (!Objects.equals(statusReason, info.waitingFor())) {
        transition(DeploymentStatus.DOWNLOADING_MODEL, info.waitingFor());
      }
      Workflow.sleep(wait);
      wait =
          wait.multipliedBy(2).compareTo(SLOT_MAX_WAIT) > 0 ? SLOT_MAX_WAIT : wait.multipliedBy(2);
    }
  }

  /**
   * Deletion interrupts provisioning between steps, and cancels the model download (waiting until
   * it stopped); tear-down then removes whatever was made. No step finishes after the tear-down
   * that undoes it.
   */
  private boolean deleteRequested() {
    return deleteRequest != null;
  }

  private void tearDown() {
    Workflow.newDetachedCancellationScope(
            () -> {
              transition(DeploymentStatus.DELETING, null);
              drainAll();
              storage.removeStorage(new StorageRequest(deploymentId, spec.storageGb()));
              transition(DeploymentStatus.DELETED, null);
            })
        .run();
  }

  /**
   * Drains every worker (one already draining for scale-in too, which cuts its long drain short)
   * and waits until each has stopped, so storage is never removed under a running engine. Bounded:
   * a worker that never answers is left to the runtime's orphan sweeper.
   */
  private void drainAll() {
    boolean drainDraining =
        Workflow.getVersion(DELETE_DRAINS_DRAINING, Workflow.DEFAULT_VERSION, 1) >= 1;
    for (Slot w : List.copyOf(workers.values())) {
      if (drainDraining || w.status != WorkerStatus.DRAINING) {
        signalWorker(w, stub -> stub.drain(new DrainRequest("the deployment is being deleted")));
      }
    }
    if (!Workflow.await(DRAIN_BOUND, workers::isEmpty)) {
      log.warn("Workers {} of {} did not report stopping", workers.keySet(), deploymentId);
    }
  }

  private void transition(DeploymentStatus next, String reason) {
    status = next;
    statusReason = reason;
    deployments.recordStatus(new RecordStatusInput(deploymentId, next, reason));
  }

  /** A reason a user can act on: the activity's own message, or which step timed out. */
  static String reasonFor(Exception e) {
    Throwable cause = e instanceof ActivityFailure ? e.getCause() : e;
    String step = e instanceof ActivityFailure af ? stepName(af.getActivityType()) : "provisioning";
    if (cause instanceof ApplicationFailure app) {
      return step + " failed: " + app.getOriginalMessage();
    }
    if (cause instanceof TimeoutFailure) {
      return step + " timed out";
    }
    if (cause instanceof CanceledFailure) {
      return step + " was cancelled";
    }
    return step + " failed: " + (cause == null ? e.getMessage() : cause.getMessage());
  }

  private static String stepName(String activityType) {
    return switch (activityType) {
      case "CreateStorage" -> "creating storage";
      case "PrepareModel" -> "model download";
      default -> activityType;
    };
  }

  @Override
  public void requestDelete(DeleteRequest request) {
    if (deleteRequest != null) {
      return;
    }
    deleteRequest = request;
  }

  @Override
  public void validateEdit(EditRequest request) {
    var refusal = EditRules.refusal(status, deleteRequest != null);
    if (refusal.isPresent()) {
      throw new IllegalStateException(refusal.get());
    }
    // The configured upper bounds were checked by the API; this one cannot read them.
    var violations = EditRules.violations(request, EditRules.Bounds.NONE);
    if (!violations.isEmpty()) {
      throw new IllegalArgumentException(
          String.join("; ", violations.stream().map(EditRules.Violation::describe).toList()));
    }
  }

  @Override
  public DeploymentState applyEdit(EditRequest request) {
    lock.lock();
    try {
      var edited = spec.withEdit(EditRules.normalized(request));
      deployments.recordSpec(new RecordSpecInput(deploymentId, edited));
      spec = edited;
      if (request.idleTimeoutSeconds() != null) {
        // Running workers take the new idle timeout without a restart.
        for (Slot w : List.copyOf(workers.values())) {
          if (w.live()) {
            signalWorker(w, stub -> stub.configure(settingsOf(w)));
          }
        }
      }
      return state();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public DeploymentState state() {
    return new DeploymentState(
        status,
        statusReason,
        spec,
        workers.values().stream()
            .map(w -> new WorkerSlot(w.ordinal, w.status, w.keepWarm))
            .toList(),
        wanted);
  }
}
