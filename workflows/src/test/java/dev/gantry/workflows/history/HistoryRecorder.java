package dev.gantry.workflows.history;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.FailureType;
import dev.gantry.api.TaskQueues;
import dev.gantry.api.deployment.AutoscalingSpec;
import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.api.deployment.ServingState.WorkerSlot;
import dev.gantry.api.job.JobProgress;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.job.JobWorkflow;
import dev.gantry.api.job.JobWorkflowInput;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.api.worker.DrainRequest;
import dev.gantry.api.worker.WorkerEndCause;
import dev.gantry.api.worker.WorkerOutcome;
import dev.gantry.api.worker.WorkerSettings;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.api.worker.WorkerWorkflowInput;
import dev.gantry.workflows.deployment.DeploymentWorkflowImpl;
import dev.gantry.workflows.job.JobWorkflowImpl;
import dev.gantry.workflows.worker.WorkerWorkflowImpl;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Records the workflow histories that {@link HistoryReplayTest} replays. It runs only on demand
 * (see {@code src/test/resources/histories/README.md}): each scenario drives the real workflow code
 * on the time-skipping test server with {@link HistoryFakes}, and writes the histories of the
 * executions it made as JSON under {@code histories/<workflow>/<scenario>.json}. Every outcome is
 * chosen up front, the clock starts at a fixed instant and the identity is fixed, so recording
 * again yields equivalent histories: the same commands in the same order, where only the moments at
 * which concurrent workers' events arrive may differ.
 */
@EnabledIfSystemProperty(named = "gantry.recordHistories", matches = "true")
@Timeout(120)
class HistoryRecorder {
  private static final Path OUT =
      Path.of(System.getProperty("gantry.historiesDir", "src/test/resources/histories"));
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  private static final String DEP = "dep_history";
  private static final String NOT_FOUND_CHANGE = "signal-target-not-found";
  private static final String CANCELLABLE_DOWNLOAD = "cancellable-download@1";
  private static final String BUSY_CHECK = "idle-reap-asks-in-flight@1";
  private static final String SCALE_IN_DRAIN = "scale-in-drain-timeout@1";
  private static final String IDLE_REAP_RECHECK = "idle-reap-rechecks-ends";
  private static final String SCALE_IN_YIELDS = "scale-in-drain-yields-to-deletion@1";
  private static final String DELETE_DRAINS_DRAINING = "delete-drains-draining-workers@1";
  private static final String LLM_AUTOSCALER = "llm-autoscaler@1";
  private static final String RELEASED_IDLE_FROM_LAST_USE = "released-idle-from-last-use@1";

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private final HistoryFakes.ControlPlane control = new HistoryFakes.ControlPlane();
  private final HistoryFakes.Jobs jobs = new HistoryFakes.Jobs();

  @BeforeEach
  void startServer() {
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setInitialTime(START)
                .setWorkflowClientOptions(
                    WorkflowClientOptions.newBuilder().setIdentity("history-recorder").build())
                .build());
    client = env.getWorkflowClient();
    control.client = client;
    // Heartbeats (and so cancellations, as of a scale-in drain) reach the server every second.
    Worker worker =
        env.newWorker(
            TaskQueues.CONTROL,
            WorkerOptions.newBuilder()
                .setMaxHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .setDefaultHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .build());
    worker.registerWorkflowImplementationTypes(
        DeploymentWorkflowImpl.class, WorkerWorkflowImpl.class, JobWorkflowImpl.class);
    worker.registerActivitiesImplementations(control, jobs);
    // As the gateway's job worker does: heartbeats (and so cancellations) every second.
    env.newWorker(
            TaskQueues.JOBS,
            WorkerOptions.newBuilder()
                .setMaxHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .setDefaultHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .build())
        .registerActivitiesImplementations(jobs);
    // As the orchestrator's: the download activity alone, on its own queue. Heartbeats (and so a
    // deletion's cancellation) reach the server every second.
    env.newWorker(
            TaskQueues.DOWNLOADS,
            WorkerOptions.newBuilder()
                .setMaxHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .setDefaultHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .build())
        .registerActivitiesImplementations(new HistoryFakes.Downloads(control));
    env.start();
  }

  @AfterEach
  void stopServer() {
    env.close();
  }

  // ---- DeploymentWorkflow (and the WorkerWorkflow children it starts) ----

  @Test
  void provisionThenDelete() {
    var wf = startDeployment(fresh(spec(0, 1, 300)));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    delete(wf);
    awaitClosed(deploymentId());
    record("deployment/provision-then-delete", deploymentId());
  }

  @Test
  void downloadRetriedThenServing() {
    control.transientModelFailures.set(2);
    var wf = startDeployment(fresh(spec(0, 1, 300)));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    record("deployment/download-retried-then-running", deploymentId());
  }

  @Test
  void failedDownloadIsCompensated() {
    control.modelFailure =
        ApplicationFailure.newNonRetryableFailure(
            "add an HF_TOKEN with access", FailureType.MODEL_ACCESS_DENIED.name());
    var wf = startDeployment(fresh(spec(0, 1, 300)));
    awaitStatus(wf, DeploymentStatus.FAILED);
    // A failed deployment waits for its deletion, which still tears down cleanly.
    delete(wf);
    awaitClosed(deploymentId());
    record("deployment/download-failed-compensated-then-deleted", deploymentId());
  }

  @Test
  void deleteWhileDownloading() {
    control.modelGate = new CountDownLatch(1);
    var wf = startDeployment(fresh(spec(0, 1, 300)));
    // Not settled: the download is under way, held by the gate.
    await("downloading", () -> wf.state().status() == DeploymentStatus.DOWNLOADING_MODEL);
    delete(wf);
    control.modelGate.countDown();
    awaitClosed(deploymentId());
    record("deployment/delete-while-downloading", deploymentId());
  }

  @Test
  void scaleOutThenIdleReapThenDelete() {
    var wf = startDeployment(fresh(spec(1, 3, 60)));
    awaitWorkers(wf, "the min worker", List.of(1), List.of(1));
    // 20 requests at concurrency 8 need 3 workers, in one step.
    wf.reportDemand(new DemandReport(2, 18));
    awaitWorkers(wf, "three healthy workers", List.of(1, 2, 3), List.of(1, 2, 3));
    record("worker/healthy-serving", workerId(2));
    await("reaped back to the min worker", () -> ordinals(wf, false).equals(List.of(1)));
    awaitClosed(workerId(2));
    awaitClosed(workerId(3));
    record("worker/idle-reaped", workerId(2));
    record("worker/healthy-min-worker", workerId(1));
    delete(wf);
    awaitClosed(deploymentId());
    awaitClosed(workerId(1));
    record("deployment/scale-out-idle-reap-then-delete", deploymentId());
    record("worker/drained-by-deletion", workerId(1));
  }

  /**
   * A new worker's start carries its deployment's decision (the instant its workflow started) for
   * its cold-start record, and its healthy record the engine's framework: activity inputs that only
   * gained fields, recorded so that they are replayed and read back ({@code RecordedInputsTest}).
   */
  @Test
  void workerStartCarriesItsDecision() {
    var wf = startDeployment(fresh(spec(1, 1, 60)));
    awaitWorkers(wf, "the min worker", List.of(1), List.of(1));
    awaitSettled(workerId(1), null);
    var history = client.fetchHistory(workerId(1));
    var start =
        history.getEvents().stream()
            .filter(e -> e.hasActivityTaskScheduledEventAttributes())
            .map(e -> e.getActivityTaskScheduledEventAttributes())
            .filter(a -> a.getActivityType().getName().equals("StartWorker"))
            .map(a -> a.getInput().getPayloads(0).getData().toStringUtf8())
            .findFirst()
            .orElseThrow();
    assertThat(start).containsPattern("\"decidedAtEpochMillis\":17\\d{11}[,}]");
    write("worker/start-carries-decision", history);
  }

  @Test
  void failedWorkersAreReplaced() {
    control.crashWhileStarting.add(WorkerWorkflow.workerId(DEP, 2));
    var wf = startDeployment(fresh(spec(1, 1, 60)));
    awaitWorkers(wf, "the min worker", List.of(1), List.of(1));
    // Killed while serving; its first replacement crashes while starting; the second serves.
    control.kill(WorkerWorkflow.workerId(DEP, 1));
    awaitWorkers(wf, "the second replacement", List.of(3), List.of(3));
    awaitClosed(workerId(1));
    awaitClosed(workerId(2));
    record("worker/engine-exited-while-serving", workerId(1));
    record("worker/engine-failed-while-starting", workerId(2));
    delete(wf);
    awaitClosed(deploymentId());
    record("deployment/failed-workers-replaced-then-delete", deploymentId());
  }

  @Test
  void editAppliesToRunningWorkers() {
    var wf = startDeployment(fresh(spec(1, 2, 3600)));
    awaitWorkers(wf, "the min worker", List.of(1), List.of(1));
    wf.reportDemand(new DemandReport(0, 16));
    awaitWorkers(wf, "two healthy workers", List.of(1, 2), List.of(1, 2));
    wf.applyEdit(new EditRequest("renamed", 20, 30));
    // The worker beyond the minimum is reaped by the edited idle timeout.
    await("reaped by the new timeout", () -> ordinals(wf, false).equals(List.of(1)));
    awaitClosed(workerId(2));
    record("worker/reconfigured-then-idle-reaped", workerId(2));
    delete(wf);
    awaitClosed(deploymentId());
    record("deployment/edit-then-delete", deploymentId());
  }

  @Test
  void scaleUpRefusedForLackOfGpus() {
    control.refuseFromOrdinal = 2;
    var wf = startDeployment(fresh(spec(0, 3, 600)));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 24));
    awaitClosed(workerId(2));
    awaitClosed(workerId(3));
    await(
        "the refusal recorded",
        () ->
            wf.state().statusReason() != null
                && wf.state().statusReason().contains("no GPU")
                && ordinals(wf, true).equals(List.of(1)));
    record("worker/refused-no-gpu-capacity", workerId(2));
    delete(wf);
    awaitClosed(deploymentId());
    record("deployment/scale-up-refused-no-gpu-then-delete", deploymentId());
  }

  @Test
  void recoveredRunningDeployment() {
    var wf =
        startDeployment(
            DeploymentWorkflowInput.recovered(
                DEP, "t1", spec(1, 2, 60), null, DeploymentStatus.RUNNING, null, 7));
    awaitWorkers(wf, "the min worker, numbered after the old ones", List.of(7), List.of(7));
    delete(wf);
    awaitClosed(deploymentId());
    recordTyped("deployment/typed-start-recovered-running-then-delete", deploymentId());
  }

  @Test
  void recoveredFailedDeployment() {
    // Restarted from the database while cleaning up after a failed download.
    var wf =
        startDeployment(
            DeploymentWorkflowInput.recovered(
                DEP,
                "t1",
                spec(0, 1, 60),
                null,
                DeploymentStatus.CLEANING,
                "model download failed: add an HF_TOKEN with access",
                1));
    awaitStatus(wf, DeploymentStatus.FAILED);
    delete(wf);
    awaitClosed(deploymentId());
    recordTyped("deployment/typed-start-recovered-failed-then-delete", deploymentId());
  }

  @Test
  void recoveredWhileDeleting() {
    startDeployment(
        DeploymentWorkflowInput.recovered(
            DEP, "t1", spec(0, 1, 60), null, DeploymentStatus.DELETING, null, 3));
    awaitClosed(deploymentId());
    recordTyped("deployment/typed-start-recovered-deleting", deploymentId());
  }

  /**
   * A new deployment in the typed shape ({@code start.mode} fresh); its min worker's input, launch
   * and model download carry the deployment's engine identity. Deleted, the worker drained.
   */
  @Test
  void typedFreshStartWithAWorker() {
    var wf = startDeployment(fresh(spec(1, 1, 60)));
    awaitWorkers(wf, "the min worker", List.of(1), List.of(1));
    delete(wf);
    awaitClosed(deploymentId());
    awaitClosed(workerId(1));
    recordTyped("deployment/typed-start-fresh-with-worker-then-delete", deploymentId());
    recordTyped("worker/typed-engine-drained-by-deletion", workerId(1));
  }

  /** Deleted while its only worker's engine is still starting: the worker drains before health. */
  @Test
  void deleteWhileAWorkerIsStarting() {
    control.neverHealthy.add(WorkerWorkflow.workerId(DEP, 1));
    var wf = startDeployment(fresh(spec(1, 1, 60)));
    await(
        "the engine started, not yet healthy",
        () -> control.running.contains(WorkerWorkflow.workerId(DEP, 1)));
    awaitWorkers(wf, "the worker provisioning", List.of(1), List.of());
    delete(wf);
    awaitClosed(deploymentId());
    awaitClosed(workerId(1));
    var outcome = client.newUntypedWorkflowStub(workerId(1)).getResult(WorkerOutcome.class);
    assertThat(outcome.cause()).isEqualTo(WorkerEndCause.DRAIN_REQUESTED);
    record("worker/drained-while-starting", workerId(1));
    record("deployment/delete-while-worker-starting", deploymentId());
  }

  /**
   * A deployment continues as new while serving and keeps managing its worker in the new run. The
   * history limit lets the first run reach a quiet state with a healthy worker; then signals that
   * change nothing lengthen its history one at a time, each handled before the next is sent, so the
   * run continues as new while handling one of them and nothing races it.
   */
  @Test
  void continueAsNew() {
    // Started as the version before the typed start mode started it (the flat input, as a map), as
    // a workflow running when the platform is upgraded was: it continues as new into the typed
    // shape.
    var flat = new LinkedHashMap<String, Object>();
    flat.put("deploymentId", DEP);
    flat.put("tenantId", "t1");
    flat.put("spec", spec(1, 3, 3600));
    flat.put("secretRef", null);
    flat.put("recoveredStatus", null);
    flat.put("recoveredReason", null);
    flat.put("nextWorkerOrdinal", 1);
    flat.put("serving", null);
    flat.put("historyLimit", 80);
    String firstRun =
        client
            .newUntypedWorkflowStub(
                "DeploymentWorkflow",
                WorkflowOptions.newBuilder()
                    .setTaskQueue(TaskQueues.CONTROL)
                    .setWorkflowId(deploymentId())
                    .build())
            .start(flat)
            .getRunId();
    var latest =
        client.newWorkflowStub(DeploymentWorkflow.class, DeploymentWorkflow.workflowId(DEP));
    awaitWorkers(latest, "the min worker", List.of(1), List.of(1));
    var first =
        client.newUntypedWorkflowStub(deploymentId(), Optional.of(firstRun), Optional.empty());
    for (int signals = 0; ; signals++) {
      awaitSettled(deploymentId(), firstRun);
      if (status(deploymentId(), firstRun)
          != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        break;
      }
      assertThat(signals).as("signals before the run continues as new").isLessThan(100);
      first.signal("reportDemand", new DemandReport(0, 0));
    }
    assertThat(status(deploymentId(), firstRun))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);
    // The continued run still manages the worker the first one started.
    control.kill(WorkerWorkflow.workerId(DEP, 1));
    awaitWorkers(latest, "a replacement in the new run", List.of(2), List.of(2));
    delete(latest);
    awaitClosed(deploymentId());

    var run1 = client.fetchHistory(deploymentId(), firstRun);
    assertThat(run1.getLastEvent().getEventType())
        .isEqualTo(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    String secondRun =
        run1.getLastEvent()
            .getWorkflowExecutionContinuedAsNewEventAttributes()
            .getNewExecutionRunId();
    var run2 = client.fetchHistory(deploymentId(), secondRun);
    assertThat(run2.getLastEvent().getEventType())
        .isEqualTo(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
    assertThat(Histories.startInput(run1).has("start")).as("run 1 started flat").isFalse();
    assertThat(Histories.startInput(run2).path("start").path("mode").asText())
        .as("run 2 continued typed")
        .isEqualTo("continued");
    write("deployment/flat-input-continued-as-typed-run1", run1);
    write("deployment/flat-input-continued-as-typed-run2", run2);
  }

  /**
   * The autoscaler ({@value LLM_AUTOSCALER}): a burst starts the workers it needs once (a repeated
   * report while they boot starts none), the peak keeps them through a lull longer than their idle
   * timeout, then they are let go (a {@code configure} signal) and reap themselves.
   */
  @Test
  void autoscalerKeepsAPeakThroughALullThenScalesToZero() {
    var wf = startDeployment(fresh(spec(0, 4, 10, new AutoscalingSpec(null, 120, null, null))));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 24));
    wf.reportDemand(new DemandReport(0, 24, 1_000));
    awaitWorkers(wf, "three healthy workers", List.of(1, 2, 3), List.of(1, 2, 3));
    wf.reportDemand(new DemandReport(0, 0));
    await("scaled to zero after the window", () -> ordinals(wf, false).isEmpty());
    awaitClosed(workerId(2));
    record("worker/kept-then-released-then-idle-reaped", workerId(2));
    delete(wf);
    awaitClosed(deploymentId());
    record(
        "deployment/autoscaler-peak-kept-through-lull-then-scaled-to-zero-then-delete",
        deploymentId(),
        LLM_AUTOSCALER);
  }

  /**
   * A worker let go by the autoscaler ({@value RELEASED_IDLE_FROM_LAST_USE}): idle since its last
   * use long before the window ended, it is reaped a third of its idle timeout after the release,
   * not a whole idle timeout after it.
   */
  @Test
  void releasedWorkerIsReapedByItsIdleTimeFromItsLastUse() {
    var wf = startDeployment(fresh(spec(0, 4, 30, new AutoscalingSpec(null, 120, null, null))));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 24));
    awaitWorkers(wf, "three healthy workers", List.of(1, 2, 3), List.of(1, 2, 3));
    wf.reportDemand(new DemandReport(0, 0));
    await("scaled to zero after the window", () -> ordinals(wf, false).isEmpty());
    awaitClosed(workerId(2));
    record(
        "worker/kept-then-released-reaped-by-idle-time-from-last-use",
        workerId(2),
        RELEASED_IDLE_FROM_LAST_USE);
    delete(wf);
    awaitClosed(deploymentId());
  }

  /**
   * Two gateways in front of one deployment, each reporting under its name, a 2 s scale-down delay:
   * after the busy gateway's peak left the window, the quiet gateway's report still counts the busy
   * one's demand (the deployment keeps both workers); once both report zero the workers are let go
   * and reap themselves.
   */
  @Test
  void aQuietGatewaysReportCountsTheBusyGatewaysDemandToo() {
    var wf = startDeployment(fresh(spec(0, 4, 10, new AutoscalingSpec(null, 2, null, null))));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(16, 0, 0, "gateway-a"));
    awaitWorkers(wf, "two healthy workers", List.of(1, 2), List.of(1, 2));
    env.sleep(Duration.ofSeconds(5));
    wf.reportDemand(new DemandReport(0, 0, 0, "gateway-b"));
    await("gateway-a's demand still counts", () -> wf.state().wanted() == 2);
    wf.reportDemand(new DemandReport(0, 0, 0, "gateway-a"));
    await("scaled to zero", () -> ordinals(wf, false).isEmpty());
    delete(wf);
    awaitClosed(deploymentId());
    record(
        "deployment/autoscaler-quiet-gateway-counts-busy-gateways-demand-then-delete",
        deploymentId(),
        LLM_AUTOSCALER);
  }

  /**
   * The autoscaler's memory continues as new: a peak kept for an hour is still kept by the next
   * run, which lets the workers go only when it leaves the window.
   */
  @Test
  void autoscalerMemoryContinuesAsNew() {
    var input =
        fresh(spec(0, 3, 60, new AutoscalingSpec(null, 3600, null, null))).withHistoryLimit(80);
    var wf = startDeployment(input);
    awaitStatus(wf, DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 16));
    awaitWorkers(wf, "two healthy workers", List.of(1, 2), List.of(1, 2));
    String firstRun = runId();
    var first =
        client.newUntypedWorkflowStub(deploymentId(), Optional.of(firstRun), Optional.empty());
    for (int signals = 0; ; signals++) {
      awaitSettled(deploymentId(), firstRun);
      if (status(deploymentId(), firstRun)
          != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        break;
      }
      assertThat(signals).as("signals before the run continues as new").isLessThan(100);
      first.signal("reportDemand", new DemandReport(0, 0));
    }
    var latest =
        client.newWorkflowStub(DeploymentWorkflow.class, DeploymentWorkflow.workflowId(DEP));
    await("the new run keeps both workers", () -> latest.state().wanted() == 2);
    await("scaled to zero after the hour", () -> ordinals(latest, false).isEmpty());
    delete(latest);
    awaitClosed(deploymentId());
    var run1 = client.fetchHistory(deploymentId(), firstRun);
    assertThat(run1.getLastEvent().getEventType())
        .isEqualTo(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    String secondRun =
        run1.getLastEvent()
            .getWorkflowExecutionContinuedAsNewEventAttributes()
            .getNewExecutionRunId();
    var run2 = client.fetchHistory(deploymentId(), secondRun);
    assertThat(Histories.versionMarkers(run1)).contains(LLM_AUTOSCALER);
    assertThat(Histories.versionMarkers(run2)).contains(LLM_AUTOSCALER);
    write("deployment/autoscaler-continued-as-new-run1", run1);
    write("deployment/autoscaler-continued-as-new-run2", run2);
  }

  private String runId() {
    return client
        .newUntypedWorkflowStub(DeploymentWorkflow.workflowId(DEP))
        .describe()
        .getExecution()
        .getRunId();
  }

  /**
   * The deployment signals a worker that ended without telling it. Since the change {@value
   * NOT_FOUND_CHANGE} (version 1) the worker is forgotten and replaced; before it, the edit failed
   * and so did the deletion. Recorded with either code, the file is named by the branch taken.
   */
  @Test
  void signalToAWorkerThatEndedUnseen() {
    var wf = startDeployment(fresh(spec(1, 2, 60)));
    awaitWorkers(wf, "the min worker", List.of(1), List.of(1));
    client.newUntypedWorkflowStub(workerId(1)).terminate("ended unseen");
    boolean forgotten;
    try {
      wf.applyEdit(new EditRequest(null, 20, null));
      forgotten = true;
    } catch (WorkflowUpdateException failedAsBeforeTheChange) {
      forgotten = false;
    }
    if (forgotten) {
      awaitWorkers(wf, "a replacement", List.of(2), List.of(2));
    }
    delete(wf);
    awaitClosed(deploymentId());
    recordByNotFoundBranch("deployment/edit-signals-worker-that-ended", deploymentId());
  }

  // ---- WorkerWorkflow on its own ----

  /**
   * A worker whose deployment is not there (gone, or between two runs): since {@value
   * NOT_FOUND_CHANGE} it retries, gives up telling it and keeps serving until drained; before it,
   * the worker failed. Named by the branch taken, like the deployment's.
   */
  @Test
  void workerWithoutItsDeployment() {
    var w1 =
        client.newWorkflowStub(
            WorkerWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(TaskQueues.CONTROL)
                .setWorkflowId(workerId(1))
                .build());
    WorkflowClient.start(
        w1::run, WorkerWorkflowInput.fresh(DEP, 1, simEngine(), new WorkerSettings(60, true)));
    await(
        "healthy, or failed",
        () -> !running(workerId(1)) || w1.state().status() == WorkerStatus.HEALTHY);
    env.sleep(Duration.ofSeconds(30));
    if (running(workerId(1))) {
      w1.drain(new DrainRequest("test"));
    }
    awaitClosed(workerId(1));
    recordByNotFoundBranch("worker/deployment-not-found", workerId(1));
  }

  /**
   * The run a worker's continue-as-new starts: healthy from its first event, with its engine's
   * endpoint and last use carried in {@code serving}. Started directly with that input, because the
   * run before it needs 5,000 events to continue as new (megabytes of JSON here).
   */
  @Test
  void workerRunContinuedAsNew() {
    var wf = startDeployment(fresh(spec(0, 1, 60)));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    control.running.add(WorkerWorkflow.workerId(DEP, 1));
    var w1 =
        client.newWorkflowStub(
            WorkerWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(TaskQueues.CONTROL)
                .setWorkflowId(workerId(1))
                .build());
    WorkflowClient.start(
        w1::run,
        WorkerWorkflowInput.fresh(DEP, 1, simEngine(), new WorkerSettings(60, false))
            .continued(
                new WorkerSettings(60, false),
                new WorkerWorkflowInput.Serving(
                    "http://127.0.0.1:9000/" + WorkerWorkflow.workerId(DEP, 1),
                    null,
                    1,
                    env.currentTimeMillis())));
    awaitSettled(workerId(1), null);
    w1.reportActivity(new ActivityReport(env.currentTimeMillis()));
    awaitClosed(workerId(1));
    assertThat(control.running).isEmpty();
    recordTyped("worker/typed-engine-continued-run-idle-reaped", workerId(1));
  }

  // ---- Since getVersion("cancellable-download"): downloads on their own queue, cancellable ----

  /** sim since the change: still prepared on the control queue, not cancellable; then deleted. */
  @Test
  void simPreparedOnTheControlQueue() {
    var wf = startDeployment(fresh(spec(0, 1, 300)));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    delete(wf);
    awaitClosed(deploymentId());
    record(
        "deployment/sim-prepared-on-control-queue-then-delete",
        deploymentId(),
        CANCELLABLE_DOWNLOAD);
  }

  /**
   * A deletion cancels the download under way: the deployment shows {@code deleting} at once, the
   * download learns of the cancellation from a heartbeat and stops, then the tear-down runs.
   */
  @Test
  void deleteCancelsARunningDownload() {
    control.downloadUntilCancelled = true;
    var wf = startDeployment(fresh(vllmSpec()));
    awaitTrue(control.downloadRunning);
    // Not settled: the download runs until the deletion cancels it. Virtual time stands still
    // meanwhile (nothing here needs a timer), so its heartbeat timeout cannot pass.
    wf.requestDelete(new DeleteRequest("key_1"));
    awaitTrue(control.downloadCancelled);
    awaitClosed(deploymentId());
    var history = client.fetchHistory(deploymentId());
    assertThat(history.getEvents())
        .as("the download ended cancelled")
        .anyMatch(e -> e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    assertThat(control.statuses).endsWith("deleting", "deleting", "deleted");
    record("deployment/delete-cancels-running-download", deploymentId(), CANCELLABLE_DOWNLOAD);
  }

  /**
   * The tenant runs its share of downloads: told twice to wait (the reason written once, the
   * workflow sleeping 5 s, then 10 s), it then downloads and runs. Still serving.
   */
  @Test
  void waitsForADownloadSlotThenRuns() {
    control.slotWaits.set(2);
    var wf = startDeployment(fresh(vllmSpec()));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    assertThat(control.slotWaits.get()).isZero();
    assertThat(control.statuses)
        .containsExactly(
            "filesystem_created",
            "downloading_model",
            "downloading_model(waiting for a download slot: this tenant already runs 2 model"
                + " downloads at once)",
            "model_downloaded",
            "running");
    record("deployment/waits-for-download-slot-then-running", deploymentId(), CANCELLABLE_DOWNLOAD);
  }

  /** Deleted while it waits for a download slot: the wait's timer is cancelled, tear-down runs. */
  @Test
  void deleteWhileWaitingForADownloadSlot() {
    control.slotWaits.set(1_000);
    var wf = startDeployment(fresh(vllmSpec()));
    await(
        "waiting for a download slot",
        () ->
            wf.state().statusReason() != null
                && wf.state().statusReason().startsWith("waiting for a download slot"));
    // Settled first: the request arrives while the workflow sleeps on its wait, no call under way.
    delete(wf);
    awaitClosed(deploymentId());
    var history = client.fetchHistory(deploymentId());
    assertThat(history.getEvents())
        .as("the wait for a slot was cancelled")
        .anyMatch(e -> e.getEventType() == EventType.EVENT_TYPE_TIMER_CANCELED);
    record(
        "deployment/delete-while-waiting-for-download-slot", deploymentId(), CANCELLABLE_DOWNLOAD);
  }

  /**
   * A permanent download failure on the downloads queue: the failure leaves the cancellation scope
   * and is compensated as before ({@code cleaning}, storage removed, {@code failed}); then deleted.
   */
  @Test
  void queuedDownloadFailedIsCompensated() {
    control.modelFailure =
        ApplicationFailure.newNonRetryableFailure(
            "add an HF_TOKEN with access", FailureType.MODEL_ACCESS_DENIED.name());
    var wf = startDeployment(fresh(vllmSpec()));
    awaitStatus(wf, DeploymentStatus.FAILED);
    delete(wf);
    awaitClosed(deploymentId());
    record(
        "deployment/queued-download-failed-compensated-then-deleted",
        deploymentId(),
        CANCELLABLE_DOWNLOAD);
  }

  // ---- Since getVersion("idle-reap-asks-in-flight") and getVersion("scale-in-drain-timeout") ----

  /**
   * Reaped while idle: the engine, asked at the idle deadline, runs nothing; the worker drains with
   * the scale-in bound ({@code StopEngineInput.scaleIn}).
   */
  @Test
  void idleReapedWithTheScaleInDrain() {
    startOneDemandWorker();
    awaitClosed(workerId(1));
    assertThat(control.inFlightCalls.get()).isEqualTo(1);
    assertThat(control.scaleInStops).containsExactly(WorkerWorkflow.workerId(DEP, 1));
    record("worker/scale-in-drain", workerId(1), BUSY_CHECK, SCALE_IN_DRAIN);
  }

  /**
   * The first two idle deadlines find requests in flight (the gateways' reports lag): the worker
   * counts as active and waits a full idle window again; the third finds none and it is reaped.
   */
  @Test
  void idleReapDeferredWhileBusy() {
    control.inFlightByCall = call -> call <= 2 ? 3 : 0;
    startOneDemandWorker();
    awaitClosed(workerId(1));
    assertThat(control.inFlightCalls.get()).isEqualTo(3);
    assertThat(control.scaleInStops).containsExactly(WorkerWorkflow.workerId(DEP, 1));
    record(
        "worker/idle-reap-deferred-while-busy-then-reaped",
        workerId(1),
        BUSY_CHECK,
        SCALE_IN_DRAIN);
  }

  /** The engine cannot be asked (both attempts fail): it counts as idle and is reaped. */
  @Test
  void idleReapWhenTheEngineCannotTell() {
    control.inFlightByCall =
        call -> {
          throw ApplicationFailure.newFailure(
              "the engine's metrics did not answer", FailureType.TRANSIENT.name());
        };
    startOneDemandWorker();
    awaitClosed(workerId(1));
    assertThat(control.inFlightCalls.get()).isEqualTo(2);
    record("worker/in-flight-unknown-then-reaped", workerId(1), BUSY_CHECK, SCALE_IN_DRAIN);
  }

  /**
   * The scale-in drain fails for good: the worker still ends stopped and says so; the orphan
   * sweeper stops what is left.
   */
  @Test
  void scaleInDrainFailed() {
    control.scaleInFailure =
        ApplicationFailure.newNonRetryableFailure(
            "the engine did not stop: process 4242 survived SIGKILL",
            FailureType.ENGINE_FAILED.name());
    startOneDemandWorker();
    awaitClosed(workerId(1));
    var outcome = client.newUntypedWorkflowStub(workerId(1)).getResult(WorkerOutcome.class);
    assertThat(outcome.status()).isEqualTo(WorkerStatus.STOPPED);
    assertThat(outcome.cause()).isEqualTo(WorkerEndCause.IDLE);
    record("worker/scale-in-drain-failed-still-stopped", workerId(1), BUSY_CHECK, SCALE_IN_DRAIN);
  }

  // ---- Since getVersion("idle-reap-rechecks-ends") ----

  /**
   * The deployment is deleted while its worker, at the idle deadline, asks the engine whether it
   * runs requests (the engine answers none once the drain arrived). Since {@value
   * IDLE_REAP_RECHECK} the worker drains for the deletion (no scale-in flag, the stop bound);
   * before it, it ended as idle with the scale-in drain. Recorded with either code, the file is
   * named by the branch taken.
   */
  @Test
  void drainDuringTheIdleBusyCheck() {
    control.inFlightAnswersAfterSignal = "drain";
    var wf = startOneDemandWorker();
    await("the engine asked at the idle deadline", () -> control.inFlightCalls.get() > 0);
    delete(wf);
    awaitClosed(deploymentId());
    awaitClosed(workerId(1));
    assertThat(control.inFlightCalls.get()).isEqualTo(1);
    var outcome = client.newUntypedWorkflowStub(workerId(1)).getResult(WorkerOutcome.class);
    if (Histories.versionMarkers(client.fetchHistory(workerId(1)))
        .contains(IDLE_REAP_RECHECK + "@1")) {
      assertThat(outcome.cause()).isEqualTo(WorkerEndCause.DRAIN_REQUESTED);
      assertThat(control.scaleInStops).isEmpty();
      record(
          "worker/drain-during-idle-busy-check", workerId(1), BUSY_CHECK, IDLE_REAP_RECHECK + "@1");
    } else {
      assertThat(outcome.cause()).isEqualTo(WorkerEndCause.IDLE);
      record(
          "worker/drain-during-idle-busy-check-before-idle-reap-recheck", workerId(1), BUSY_CHECK);
    }
  }

  // ---- Since getVersion("scale-in-drain-yields-to-deletion") and
  // ("delete-drains-draining-workers")

  /**
   * The deployment is deleted while its worker drains for scale-in (waiting for live generations,
   * hours): the deletion drains the draining worker too, which cancels its scale-in drain (the
   * activity learns it from a heartbeat) and stops the engine the normal way (the stop bound, no
   * scale-in flag); storage is removed once it stopped.
   */
  @Test
  void deleteDuringAScaleInDrain() {
    control.scaleInUntilCancelled = true;
    var wf = startOneDemandWorker();
    await("reaped: the scale-in drain under way", () -> control.scaleInRunning.getCount() == 0);
    // Not settled: the scale-in drain runs until the deletion cancels it. Virtual time stands
    // still meanwhile, so its heartbeat timeout cannot pass.
    wf.requestDelete(new DeleteRequest("key_1"));
    awaitTrue(control.scaleInCancelled);
    awaitClosed(deploymentId());
    awaitClosed(workerId(1));
    var outcome = client.newUntypedWorkflowStub(workerId(1)).getResult(WorkerOutcome.class);
    assertThat(outcome.status()).isEqualTo(WorkerStatus.STOPPED);
    assertThat(outcome.cause()).isEqualTo(WorkerEndCause.DRAIN_REQUESTED);
    assertThat(client.fetchHistory(workerId(1)).getEvents())
        .as("the scale-in drain ended cancelled")
        .anyMatch(e -> e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    assertThat(control.running).isEmpty();
    assertThat(control.statuses).endsWith("deleting", "deleted");
    record(
        "worker/scale-in-drain-cut-short-by-deletion",
        workerId(1),
        BUSY_CHECK,
        SCALE_IN_DRAIN,
        SCALE_IN_YIELDS);
    record("deployment/delete-during-scale-in-drain", deploymentId(), DELETE_DRAINS_DRAINING);
  }

  /** A sim deployment without min workers, whose demand starts one worker that may be reaped. */
  private DeploymentWorkflow startOneDemandWorker() {
    var wf = startDeployment(fresh(spec(0, 1, 20)));
    awaitStatus(wf, DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 1));
    awaitWorkers(wf, "a healthy worker", List.of(1), List.of(1));
    return wf;
  }

  // ---- JobWorkflow ----

  @Test
  void jobCompleted() {
    var release = new CountDownLatch(1);
    jobs.script =
        attempt -> {
          HistoryFakes.awaitQuietly(release);
          return new JobState(JobStatus.COMPLETED, 200, null);
        };
    var wf = startJob(3600);
    awaitTrue(jobs.started);
    wf.progress(new JobProgress(JobStatus.FETCHED));
    wf.progress(new JobProgress(JobStatus.PROCESSING));
    await("processing", () -> wf.state().status() == JobStatus.PROCESSING);
    release.countDown();
    awaitClosed(jobId());
    record("job/completed", jobId());
  }

  @Test
  void jobAnsweredWithAnError() {
    jobs.script = attempt -> new JobState(JobStatus.FAILED, 502, "Worker returned an error");
    startJob(3600);
    awaitClosed(jobId());
    record("job/failed-answer", jobId());
  }

  @Test
  void jobRetriedOnAnotherGateway() {
    jobs.script =
        attempt -> {
          if (attempt == 1) {
            throw ApplicationFailure.newFailure("gateway went away", FailureType.TRANSIENT.name());
          }
          return new JobState(JobStatus.COMPLETED, 200, null);
        };
    startJob(3600);
    awaitClosed(jobId());
    record("job/retried-then-completed", jobId());
  }

  @Test
  void jobExecutionFailed() {
    jobs.script =
        attempt -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "bad route", FailureType.INVALID_SPEC.name());
        };
    startJob(3600);
    awaitClosed(jobId());
    record("job/execution-failed", jobId());
  }

  @Test
  void jobCancelled() {
    jobs.script = attempt -> HistoryFakes.Jobs.heartbeatUntilCancelled();
    var wf = startJob(3600);
    awaitTrue(jobs.started);
    WorkflowStub.fromTyped(wf).cancel();
    awaitClosed(jobId());
    assertThat(status(jobId(), null))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED);
    record("job/cancelled", jobId());
  }

  @Test
  void jobOutOfTime() {
    var never = new CountDownLatch(1);
    jobs.script =
        attempt -> {
          try {
            never.await(3, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return new JobState(JobStatus.COMPLETED, 200, null);
        };
    startJob(1);
    awaitClosed(jobId());
    record("job/timed-out", jobId());
  }

  // ---- helpers ----

  static DeploymentSpec spec(int min, int max, int idleSeconds, AutoscalingSpec autoscaling) {
    return new DeploymentSpec(
        "chat",
        "tiny",
        Framework.SIM,
        null,
        min,
        max,
        8,
        idleSeconds,
        60,
        5,
        List.of(),
        List.of(),
        null,
        null,
        autoscaling);
  }

  static DeploymentSpec spec(int min, int max, int idleSeconds) {
    return new DeploymentSpec(
        "chat", "tiny", Framework.SIM, null, min, max, 8, idleSeconds, 60, 5, List.of(), List.of());
  }

  /** A model that is downloaded (on the downloads queue), unlike sim's; no min workers. */
  static DeploymentSpec vllmSpec() {
    return new DeploymentSpec(
        "chat",
        "org/model",
        Framework.VLLM,
        new GpuSpec("L4", 1, List.of()),
        0,
        1,
        8,
        300,
        60,
        5,
        List.of(),
        List.of());
  }

  /** The engine of {@link #spec}'s deployments, as their workflow hands it to a worker. */
  static EngineIdentity simEngine() {
    return spec(0, 1, 60).engine(null);
  }

  static DeploymentWorkflowInput fresh(DeploymentSpec spec) {
    return DeploymentWorkflowInput.fresh(DEP, "t1", spec, null);
  }

  private static String deploymentId() {
    return DeploymentWorkflow.workflowId(DEP);
  }

  private static String workerId(int ordinal) {
    return WorkerWorkflow.workflowId(DEP, ordinal);
  }

  private static String jobId() {
    return JobWorkflow.workflowId("req_history");
  }

  private DeploymentWorkflow newDeploymentStub() {
    return client.newWorkflowStub(
        DeploymentWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(TaskQueues.CONTROL)
            .setWorkflowId(deploymentId())
            .build());
  }

  private DeploymentWorkflow startDeployment(DeploymentWorkflowInput input) {
    var wf = newDeploymentStub();
    WorkflowClient.start(wf::run, input);
    return wf;
  }

  private JobWorkflow startJob(long timeoutSeconds) {
    var wf =
        client.newWorkflowStub(
            JobWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(TaskQueues.CONTROL)
                .setWorkflowId(jobId())
                .build());
    WorkflowClient.start(wf::run, new JobWorkflowInput("req_history", DEP, "t1", timeoutSeconds));
    return wf;
  }

  /** Asks for deletion once the deployment is quiet, so the request races nothing. */
  private void delete(DeploymentWorkflow wf) {
    awaitSettled(deploymentId(), null);
    wf.requestDelete(new DeleteRequest("key_1"));
  }

  /** Polls a condition while virtual time moves in small steps. */
  private void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      env.sleep(Duration.ofMillis(100));
    }
  }

  private static void awaitTrue(CountDownLatch latch) {
    try {
      assertThat(latch.await(20, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /**
   * Waits for a deployment status, then until the deployment is quiet: the next step of the
   * scenario then never races what the workflow was still doing, and recording again gives the same
   * history.
   */
  private void awaitStatus(DeploymentWorkflow wf, DeploymentStatus expected) {
    await("status " + expected, () -> wf.state().status() == expected);
    awaitSettled(deploymentId(), null);
  }

  /**
   * Waits until the deployment counts exactly these workers, exactly these healthy, and is quiet.
   */
  private void awaitWorkers(
      DeploymentWorkflow wf, String what, List<Integer> current, List<Integer> healthy) {
    await(what, () -> ordinals(wf, false).equals(current) && ordinals(wf, true).equals(healthy));
  }

  private static List<Integer> ordinals(DeploymentWorkflow wf, boolean healthyOnly) {
    return wf.state().workers().stream()
        .filter(w -> !healthyOnly || w.status() == WorkerStatus.HEALTHY)
        .map(WorkerSlot::ordinal)
        .toList();
  }

  /** The run's status, or null while no workflow of that id was started. */
  private WorkflowExecutionStatus status(String workflowId, String runId) {
    try {
      return client
          .newUntypedWorkflowStub(workflowId, Optional.ofNullable(runId), Optional.empty())
          .describe()
          .getWorkflowExecutionInfo()
          .getStatus();
    } catch (WorkflowNotFoundException notStartedYet) {
      return null;
    }
  }

  private boolean running(String workflowId) {
    return status(workflowId, null) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
  }

  /** Waits until the workflow was started and its latest run has closed. */
  private void awaitClosed(String workflowId) {
    await(
        workflowId + " closed",
        () -> {
          var status = status(workflowId, null);
          return status != null
              && status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
        });
  }

  /**
   * Writes the latest run's history once it is quiet, so a history of a workflow still running ends
   * where its code last decided something and waits.
   */
  private void record(String name, String workflowId) {
    awaitSettled(workflowId, null);
    write(name, client.fetchHistory(workflowId));
  }

  /**
   * Records a history that must have taken the new branch of these changes: each {@code
   * changeId@version} is among its version markers, or nothing is written.
   */
  private void record(String name, String workflowId, String... markers) {
    awaitSettled(workflowId, null);
    var history = client.fetchHistory(workflowId);
    assertThat(Histories.versionMarkers(history)).as(name + "'s version markers").contains(markers);
    write(name, history);
  }

  /**
   * Records a history whose run started with the typed input ({@code start} of a deployment, {@code
   * engine} of a worker); the flat-shape files were recorded by the code before it.
   */
  private void recordTyped(String name, String workflowId) {
    awaitSettled(workflowId, null);
    var history = client.fetchHistory(workflowId);
    var input = Histories.startInput(history);
    assertThat(input.has("start") || input.has("engine"))
        .as(name + " started with the typed input: " + input)
        .isTrue();
    write(name, history);
  }

  /** Waits until the run (the latest when null) is {@linkplain Histories#quiet quiet}. */
  private void awaitSettled(String workflowId, String runId) {
    await(
        workflowId + " settled",
        () ->
            Histories.quiet(
                runId == null
                    ? client.fetchHistory(workflowId)
                    : client.fetchHistory(workflowId, runId)));
  }

  /** Records under a name that says which branch of {@value NOT_FOUND_CHANGE} the run took. */
  private void recordByNotFoundBranch(String name, String workflowId) {
    var history = client.fetchHistory(workflowId);
    assertThat(history.getEvents())
        .as("the run signalled a workflow that was not there")
        .anyMatch(
            e ->
                e.getEventType() == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
    record(
        name + (Histories.versionMarkers(history).isEmpty() ? "-default-version" : "-version-1"),
        workflowId);
  }

  private static void write(String name, WorkflowExecutionHistory history) {
    Path file = OUT.resolve(name + ".json");
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, history.toJson(true) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
