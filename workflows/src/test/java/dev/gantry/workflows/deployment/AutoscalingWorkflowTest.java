package dev.gantry.workflows.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.api.deployment.AutoscalingSpec;
import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.ServingState.WorkerSlot;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.api.worker.DrainRequest;
import dev.gantry.api.worker.WorkerEndCause;
import dev.gantry.api.worker.WorkerOutcome;
import dev.gantry.api.worker.WorkerSettings;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.api.worker.WorkerWorkflowInput;
import dev.gantry.autoscaler.Autoscaler;
import dev.gantry.workflows.deployment.DeploymentWorkflowTest.Recorder;
import dev.gantry.workflows.worker.WorkerWorkflowImpl;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerOptions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The serving loop and worker lifecycles together, with fake engines and time skipping: minimum
 * workers, burst scale-out, idle reaping, replacement with backoff, edits, deletion, refusal for
 * lack of GPUs, and continue-as-new.
 */
@Timeout(60)
class AutoscalingWorkflowTest {
  static final String DEP = "dep_test";

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DeploymentWorkflowImpl.class, WorkerWorkflowImpl.class)
          .setDoNotStart(true)
          // Heartbeats (and so cancellations) reach the server every second, not every 24 s.
          .setWorkerOptions(
              WorkerOptions.newBuilder()
                  .setMaxHeartbeatThrottleInterval(Duration.ofSeconds(1))
                  .setDefaultHeartbeatThrottleInterval(Duration.ofSeconds(1))
                  .build())
          .build();

  final Recorder deployments = new Recorder();
  final FakeWorkerActivities engines = new FakeWorkerActivities();

  /** A spec with a fixed scale-down delay and warm buffer. */
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

  @Test
  void theScaleDownDelayKeepsAPeaksWorkersThroughALullThenLetsThemGo(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 4, 10, new AutoscalingSpec(null, 120, null, null)));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 24)); // 3 workers at concurrency 8
    await(env, "three healthy workers", () -> healthy(wf).size() == 3);
    assertThat(wf.state().workers()).allMatch(WorkerSlot::keepWarm);
    wf.reportDemand(new DemandReport(0, 0));

    // A lull far longer than the idle timeout (10 s), shorter than the delay: nobody is reaped.
    env.sleep(Duration.ofSeconds(100));
    assertThat(healthy(wf)).hasSize(3);
    assertThat(engines.count("drain:")).isZero();

    // The peak leaves the window: the workers are let go and reap themselves when idle.
    await(env, "scale to zero after the window", () -> current(wf).isEmpty());
    assertThat(engines.count("start:")).isEqualTo(3);
  }

  @Test
  void workersLetGoAfterTheWindowCountTheirIdleTimeFromTheirLastUse(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 4, 30, new AutoscalingSpec(null, 120, null, null)));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    long peakAt = env.currentTimeMillis();
    wf.reportDemand(new DemandReport(0, 24)); // 3 workers at concurrency 8, then never used
    await(env, "three healthy workers", () -> healthy(wf).size() == 3);
    wf.reportDemand(new DemandReport(0, 0));

    env.sleep(Duration.ofMillis(peakAt + 125_000 - env.currentTimeMillis()));
    assertThat(engines.count("drain:")).as("let go at 120 s, reaped 10 s later").isZero();

    // Idle for 120 s by then, they go a third of the idle timeout (10 s) after the release, not a
    // whole idle timeout (30 s) after it.
    env.sleep(Duration.ofMillis(peakAt + 140_000 - env.currentTimeMillis()));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (engines.count("drain:") < 3 && System.nanoTime() < deadline) {
      env.sleep(Duration.ofMillis(1));
    }
    assertThat(engines.count("drain:")).isEqualTo(3);
    assertThat(env.currentTimeMillis() - peakAt).isLessThan(145_000);
  }

  /**
   * Two gateways, each reporting under its name: the quiet one's report counts the busy one's
   * latest demand too, so it does not size the deployment for its own quiet alone; the busy one's
   * share is forgotten once it stayed silent for {@link Autoscaler#SOURCE_TTL_MILLIS}. (Before
   * reports named their gateway, the last report stood alone: b's would have asked for none.)
   */
  @Test
  void aQuietGatewaysReportCountsTheBusyGatewaysDemandToo(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 4, 60, new AutoscalingSpec(null, 2, null, null)));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    long reportedAt = env.currentTimeMillis();
    wf.reportDemand(new DemandReport(16, 0, 0, "gateway-a")); // 2 workers at concurrency 8
    await(env, "two healthy workers", () -> healthy(wf).size() == 2);
    // a's peak has left the 2 s window; b reports its own quiet.
    env.sleep(Duration.ofMillis(reportedAt + 5_000 - env.currentTimeMillis()));
    wf.reportDemand(new DemandReport(0, 0, 0, "gateway-b"));
    await(env, "gateway-a's demand still counts", () -> wf.state().wanted() == 2);
    assertThat(wf.state().workers()).hasSize(2).allMatch(WorkerSlot::keepWarm);

    // gateway-a said nothing for longer than its report counts: b's next report finds no demand.
    env.sleep(
        Duration.ofMillis(reportedAt + Autoscaler.SOURCE_TTL_MILLIS - env.currentTimeMillis()));
    wf.reportDemand(new DemandReport(0, 0, 0, "gateway-b"));
    await(env, "let go once gateway-a is forgotten", () -> wf.state().wanted() == 0);
  }

  @Test
  void aWarmBufferRunsAboveDemandWhileInUse(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 4, 10, new AutoscalingSpec(null, 60, 1, null)));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(0, 5)); // 1 worker of demand, 1 of buffer
    await(env, "two healthy workers", () -> healthy(wf).size() == 2);
    assertThat(engines.count("start:")).isEqualTo(2);
    await(env, "scale to zero after the window", () -> current(wf).isEmpty());
  }

  @Test
  void requestsWaitingPastTheQueueDelayStartOneMoreWorker(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 4, 60, new AutoscalingSpec(null, 60, null, 500)));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(8, 0)); // one worker's worth
    await(env, "one healthy worker", () -> healthy(wf).size() == 1);
    // Its slots are full by count, yet one request waits too long: one more worker.
    wf.reportDemand(new DemandReport(8, 1, 100));
    env.sleep(Duration.ofSeconds(1));
    assertThat(engines.count("start:")).isEqualTo(2);
    wf.reportDemand(new DemandReport(7, 0, 0));
    wf.reportDemand(new DemandReport(7, 2, 900));
    await(env, "a third worker for the slow queue", () -> engines.count("start:") == 3);
  }

  static DeploymentSpec spec(int min, int max, int idleSeconds) {
    return new DeploymentSpec(
        "chat", "tiny", Framework.SIM, null, min, max, 8, idleSeconds, 60, 5, List.of(), List.of());
  }

  DeploymentWorkflow start(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker, DeploymentSpec spec) {
    return start(env, client, worker, DeploymentWorkflowInput.fresh(DEP, "t1", spec, null));
  }

  DeploymentWorkflow start(
      TestWorkflowEnvironment env,
      WorkflowClient client,
      Worker worker,
      DeploymentWorkflowInput input) {
    var wf =
        startEnv(env, client, worker, DeploymentWorkflow.class, DeploymentWorkflow.workflowId(DEP));
    WorkflowClient.start(wf::run, input);
    return wf;
  }

  /** Starts the environment with the fake activities; a stub to start a workflow with. */
  <T> T startEnv(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker, Class<T> type, String id) {
    worker.registerActivitiesImplementations(deployments, engines);
    engines.client = client;
    env.start();
    return client.newWorkflowStub(
        type,
        WorkflowOptions.newBuilder().setTaskQueue(worker.getTaskQueue()).setWorkflowId(id).build());
  }

  /** Polls a condition while virtual time moves in small steps. */
  static void await(TestWorkflowEnvironment env, String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        System.err.println("DIAG " + env.getDiagnostics());
        throw new AssertionError("timed out waiting for " + what);
      }
      env.sleep(Duration.ofMillis(100));
    }
  }

  static List<Integer> healthy(DeploymentWorkflow wf) {
    return wf.state().workers().stream()
        .filter(w -> w.status() == WorkerStatus.HEALTHY)
        .map(WorkerSlot::ordinal)
        .toList();
  }

  static List<Integer> current(DeploymentWorkflow wf) {
    return wf.state().workers().stream().map(WorkerSlot::ordinal).toList();
  }

  @Test
  void minWorkersStartWithTheDeploymentAndAreNeverReaped(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(2, 3, 60));
    await(env, "two healthy min workers", () -> healthy(wf).equals(List.of(1, 2)));
    assertThat(wf.state().workers()).allMatch(WorkerSlot::keepWarm);

    env.sleep(Duration.ofHours(3));

    assertThat(healthy(wf)).containsExactly(1, 2);
    assertThat(engines.count("start:")).isEqualTo(2);
    assertThat(engines.count("drain:")).isZero();
  }

  @Test
  void aBurstScalesStraightToWhatItNeedsAndIdleWorkersAreReapedBackToMin(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(1, 5, 60));
    await(env, "the min worker", () -> healthy(wf).equals(List.of(1)));

    // 30 requests at concurrency 8 need 4 workers; one report, not one worker per report.
    wf.reportDemand(new DemandReport(2, 28));
    // The same burst reported again while its workers boot starts none more.
    wf.reportDemand(new DemandReport(0, 30));
    await(env, "four healthy workers", () -> healthy(wf).size() == 4);
    assertThat(engines.count("start:")).isEqualTo(4);

    // Smaller demand never scales in; only idleness does.
    wf.reportDemand(new DemandReport(1, 0));
    env.sleep(Duration.ofSeconds(30));
    assertThat(healthy(wf)).hasSize(4);

    await(env, "reaping back to the min worker", () -> current(wf).equals(List.of(1)));
    assertThat(engines.calls).contains("drain:w2", "drain:w3", "drain:w4");
    assertThat(engines.calls).contains("record:w2:draining", "record:w2:stopped");
    assertThat(engines.calls).doesNotContain("drain:w1");
    assertThat(wf.state().wanted()).isEqualTo(1);

    // At max the autoscaler clamps.
    wf.reportDemand(new DemandReport(0, 1000));
    await(env, "max workers", () -> healthy(wf).size() == 5);
    env.sleep(Duration.ofSeconds(5));
    assertThat(current(wf)).hasSize(5);
  }

  @Test
  void aMinOfZeroEndsWithZeroWorkers(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 2, 30));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    assertThat(engines.count("start:")).isZero();

    wf.reportDemand(new DemandReport(0, 3));
    await(env, "a cold-started worker", () -> healthy(wf).equals(List.of(1)));
    await(env, "scale to zero", () -> current(wf).isEmpty());
    assertThat(engines.running).isEmpty();
  }

  @Test
  void activityReportsMoveTheIdleTimer(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 1, 60));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(1, 0));
    await(env, "a healthy worker", () -> healthy(wf).equals(List.of(1)));
    var w1 = client.newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowId(DEP, 1));

    env.sleep(Duration.ofSeconds(45));
    w1.reportActivity(new ActivityReport(env.currentTimeMillis()));
    env.sleep(Duration.ofSeconds(45));
    assertThat(healthy(wf)).as("used 45 s ago, idle timeout 60 s").containsExactly(1);

    env.sleep(Duration.ofSeconds(20));
    await(env, "reaped once idle", () -> current(wf).isEmpty());
  }

  @Test
  void anEditedIdleTimeoutAppliesToRunningWorkers(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 1, 3600));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(1, 0));
    await(env, "a healthy worker", () -> healthy(wf).equals(List.of(1)));

    wf.applyEdit(new EditRequest(null, 20, null));
    var w1 = client.newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowId(DEP, 1));
    assertThat(w1.state().settings().idleTimeoutSeconds()).isEqualTo(20);

    env.sleep(Duration.ofSeconds(25));
    await(env, "reaped by the new timeout", () -> current(wf).isEmpty());
    assertThat(engines.count("start:")).isEqualTo(1);
  }

  @Test
  void anIdleReapLeavesAWorkerWithRequestsInFlightAndScaleInDrainsWithItsOwnBound(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(0, 1, 3600));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(1, 0));
    await(env, "a healthy worker", () -> healthy(wf).equals(List.of(1)));
    // Four long generations; the gateway's last activity report is from their start.
    engines.inFlight.put(DEP + "-w1", 4);

    wf.applyEdit(new EditRequest(null, 5, null));
    env.sleep(Duration.ofSeconds(60));

    assertThat(healthy(wf)).as("busy, though unreported for 60 s").containsExactly(1);
    assertThat(engines.count("inFlight:w1")).isPositive();
    assertThat(engines.count("drain:")).isZero();

    engines.inFlight.put(DEP + "-w1", 0);
    await(env, "reaped once its requests finished", () -> current(wf).isEmpty());
    assertThat(engines.calls).contains("drain:w1", "scale-in:w1");
  }

  /**
   * A deletion whose drain arrives while the idle reap asks the engine whether it runs requests:
   * the worker drains for the deletion (its bound, no scale-in flag), not as idle.
   */
  @Test
  void aDeletionDuringTheIdleReapsBusyCheckDrainsForTheDeletion(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    engines.inFlightAnswersAfterSignal = "drain";
    var wf = start(env, client, worker, spec(0, 1, 20));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(1, 0));
    await(env, "a healthy worker", () -> healthy(wf).equals(List.of(1)));

    // The idle deadline passes; the engine is asked and answers only once the drain arrived.
    await(env, "the engine asked at the idle deadline", () -> engines.count("inFlight:w1") > 0);
    wf.requestDelete(new DeleteRequest("key_1"));

    var outcome =
        client
            .newUntypedWorkflowStub(WorkerWorkflow.workflowId(DEP, 1))
            .getResult(WorkerOutcome.class);
    assertThat(outcome.status()).isEqualTo(WorkerStatus.STOPPED);
    assertThat(outcome.cause()).isEqualTo(WorkerEndCause.DRAIN_REQUESTED);
    assertThat(outcome.reason()).isEqualTo("the deployment is being deleted");
    assertThat(engines.calls).contains("drain:w1").doesNotContain("scale-in:w1");
    assertThat(engines.count("inFlight:w1")).isEqualTo(1);
    assertThat(WorkflowStub.fromTyped(wf).getResult(DeploymentState.class).status())
        .isEqualTo(DeploymentStatus.DELETED);
  }

  /**
   * A deletion while a worker drains for scale-in (which waits for live generations, hours): the
   * deletion's drain cuts it short. The scale-in stop is cancelled, the engine stops the normal way
   * (the stop bound), and storage goes only after that, within the deletion's drain bound.
   */
  @Test
  void aDeletionDuringAScaleInDrainCutsItShort(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    engines.scaleInUntilCancelled = true;
    deployments.onRemoveStorage =
        () -> engines.calls.add("removeStorage(running=" + engines.running + ")");
    var wf = start(env, client, worker, spec(0, 1, 20));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(1, 0));
    await(env, "a healthy worker", () -> healthy(wf).equals(List.of(1)));
    await(env, "the scale-in drain under way", () -> engines.count("scale-in:w1") > 0);

    wf.requestDelete(new DeleteRequest("key_1"));
    var result = WorkflowStub.fromTyped(wf).getResult(DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    // Measured in the deployment's own history: after the run ends, the test server may skip
    // time for the scale-in stop the worker abandoned.
    var events =
        client.fetchHistory(WorkflowStub.fromTyped(wf).getExecution().getWorkflowId()).getEvents();
    long deleted =
        events.stream()
            .filter(
                e ->
                    e.hasWorkflowExecutionSignaledEventAttributes()
                        && e.getWorkflowExecutionSignaledEventAttributes()
                            .getSignalName()
                            .equals("requestDelete"))
            .findFirst()
            .orElseThrow()
            .getEventTime()
            .getSeconds();
    long ended = events.getLast().getEventTime().getSeconds();
    assertThat(ended - deleted)
        .as("deleted within the deletion's drain bound (s)")
        .isLessThan(Duration.ofMinutes(10).toSeconds());
    var outcome =
        client
            .newUntypedWorkflowStub(WorkerWorkflow.workflowId(DEP, 1))
            .getResult(WorkerOutcome.class);
    assertThat(outcome.status()).isEqualTo(WorkerStatus.STOPPED);
    assertThat(outcome.cause()).isEqualTo(WorkerEndCause.DRAIN_REQUESTED);
    assertThat(outcome.reason()).isEqualTo("the deployment is being deleted");
    // The scale-in stop acknowledged its cancellation before the normal stop ran; storage went
    // after the worker recorded stopped, with no engine left running.
    assertThat(engines.calls)
        .containsSubsequence(
            "scale-in:w1",
            "scale-in-cancelled:w1",
            "drain:w1",
            "record:w1:stopped",
            "removeStorage(running=[])");
    assertThat(engines.count("drain:w1")).isEqualTo(2);
    assertThat(engines.count("scale-in:w1")).isEqualTo(1);
    assertThat(engines.running).isEmpty();
  }

  /** An engine that exits while the idle reap asks it: the worker fails, not stops as idle. */
  @Test
  void anEngineExitDuringTheIdleReapsBusyCheckFailsTheWorker(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    engines.inFlightAnswersAfterSignal = "engineExited";
    var wf = start(env, client, worker, spec(0, 1, 20));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);
    wf.reportDemand(new DemandReport(1, 0));
    await(env, "a healthy worker", () -> healthy(wf).equals(List.of(1)));

    await(env, "the engine asked at the idle deadline", () -> engines.count("inFlight:w1") > 0);
    engines.kill(DEP + "-w1");

    var outcome =
        client
            .newUntypedWorkflowStub(WorkerWorkflow.workflowId(DEP, 1))
            .getResult(WorkerOutcome.class);
    assertThat(outcome.status()).isEqualTo(WorkerStatus.FAILED);
    assertThat(outcome.cause()).isEqualTo(WorkerEndCause.ENGINE_FAILED);
    assertThat(outcome.reason()).contains("killed by SIGKILL");
    assertThat(engines.calls).contains("stop:w1", "record:w1:failed").doesNotContain("scale-in:w1");
  }

  @Test
  void aKilledEngineIsReplacedAndACrashLoopBacksOff(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(1, 1, 60));
    await(env, "the min worker", () -> healthy(wf).equals(List.of(1)));

    engines.kill(DEP + "-w1");
    await(env, "a replacement", () -> healthy(wf).equals(List.of(2)));
    assertThat(engines.calls).contains("record:w1:failed");
    long firstGap = engines.startTimes.get(1) - engines.startTimes.get(0);
    assertThat(firstGap).as("replacement waits the first backoff").isGreaterThanOrEqualTo(5_000);

    // Now every start crashes: replacements keep coming, each later than the last.
    engines.failingStarts.set(3);
    engines.kill(DEP + "-w2");
    await(env, "a worker that survives", () -> healthy(wf).equals(List.of(6)));
    var t = engines.startTimes;
    long gap3 = t.get(3) - t.get(2);
    long gap4 = t.get(4) - t.get(3);
    long gap5 = t.get(5) - t.get(4);
    assertThat(gap4).isGreaterThan(gap3);
    assertThat(gap5).isGreaterThan(gap4);
    assertThat(deployments.calls)
        .anyMatch(c -> c.startsWith("status:running(workers keep failing"));
    // The status write follows the healthy event; wait for it rather than race it.
    await(
        env,
        "the reason cleared once a worker is healthy again",
        () -> deployments.calls.getLast().equals("status:running"));
  }

  @Test
  void deletionDrainsEveryWorkerBeforeRemovingStorage(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(2, 2, 60));
    await(env, "two healthy workers", () -> healthy(wf).size() == 2);

    wf.requestDelete(new DeleteRequest("key_1"));
    var result = WorkflowStub.fromTyped(wf).getResult(DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    assertThat(engines.running).isEmpty();
    int removed = deployments.calls.indexOf("removeStorage");
    assertThat(removed).isPositive();
    // Every worker recorded stopped (its engine drained) before storage went away.
    assertThat(engines.calls).contains("drain:w1", "drain:w2");
    assertThat(engines.count("scale-in:")).as("deletion drains with the stop bound").isZero();
    assertThat(deployments.calls.subList(0, removed)).contains("status:deleting");
    assertThat(engines.calls).contains("record:w1:stopped", "record:w2:stopped");
    assertThat(engines.count("start:")).isEqualTo(2);
  }

  @Test
  void aScaleUpWithoutGpusIsRefusedAndTheReasonRecorded(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    engines.slots = 1;
    var wf = start(env, client, worker, spec(0, 3, 600));
    await(env, "running", () -> wf.state().status() == DeploymentStatus.RUNNING);

    wf.reportDemand(new DemandReport(0, 24));
    await(env, "the refusals", () -> engines.count("refused:") == 2);
    // Which of the three got the one slot is a race; exactly one did.
    await(env, "one healthy worker", () -> healthy(wf).size() == 1);
    await(
        env,
        "the reason",
        () -> wf.state().statusReason() != null && wf.state().statusReason().contains("no GPU"));
    // Once the burst left the scale-down window the autoscaler wants min_workers (0) again.
    await(env, "wanting min workers", () -> wf.state().wanted() == 0);
    assertThat(engines.calls).noneMatch(c -> c.startsWith("record:") && c.endsWith(":failed"));
    assertThat(current(wf)).hasSize(1);
  }

  @Test
  void aRecoveredRunningDeploymentKeepsServingWithFreshWorkerIds(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var input =
        DeploymentWorkflowInput.recovered(
            DEP, "t1", spec(1, 2, 60), null, DeploymentStatus.RUNNING, null, 7);
    var wf = start(env, client, worker, input);

    await(env, "the min worker, numbered after the old ones", () -> healthy(wf).equals(List.of(7)));
    assertThat(wf.state().status()).isEqualTo(DeploymentStatus.RUNNING);
    assertThat(deployments.calls)
        .as("no provisioning states walked again")
        .noneMatch(c -> c.equals("createStorage") || c.startsWith("status:downloading"));
  }

  @Test
  void continuesAsNewAndKeepsManagingItsWorkers(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var input = DeploymentWorkflowInput.fresh(DEP, "t1", spec(1, 3, 60), null).withHistoryLimit(40);
    start(env, client, worker, input);
    // Provisioning alone can pass the low history limit, so the run that first serves the min
    // worker may already be a continued one: always ask the latest run.
    var latest =
        client.newWorkflowStub(DeploymentWorkflow.class, DeploymentWorkflow.workflowId(DEP));
    await(env, "the min worker", () -> healthy(latest).equals(List.of(1)));
    String firstRun = runId(client);

    // Signals that change nothing still lengthen history, until the run continues as new.
    await(
        env,
        "a new run",
        () -> {
          try {
            latest.reportDemand(new DemandReport(0, 0));
          } catch (WorkflowNotFoundException betweenRuns) {
            // The test server's continue-as-new is not atomic: signalled between two runs.
          }
          return !runId(client).equals(firstRun);
        });
    assertThat(healthy(latest)).containsExactly(1);

    engines.kill(DEP + "-w1");
    await(env, "a replacement in the new run", () -> healthy(latest).equals(List.of(2)));
  }

  /**
   * A run started by the version before the start mode had a type (its input in the flat shape,
   * sent here as a map) serves, continues as new into the typed shape, and the new run still
   * manages the worker the first one started.
   */
  @Test
  void aRunStartedWithTheFlatInputContinuesAsNewIntoTheTypedShape(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    startEnv(env, client, worker, DeploymentWorkflow.class, DeploymentWorkflow.workflowId(DEP));
    var flat = new LinkedHashMap<String, Object>();
    flat.put("deploymentId", DEP);
    flat.put("tenantId", "t1");
    flat.put("spec", spec(1, 3, 60));
    flat.put("secretRef", null);
    flat.put("recoveredStatus", null);
    flat.put("recoveredReason", null);
    flat.put("nextWorkerOrdinal", 1);
    flat.put("serving", null);
    flat.put("historyLimit", 40);
    String firstRun =
        client
            .newUntypedWorkflowStub(
                "DeploymentWorkflow",
                WorkflowOptions.newBuilder()
                    .setTaskQueue(worker.getTaskQueue())
                    .setWorkflowId(DeploymentWorkflow.workflowId(DEP))
                    .build())
            .start(flat)
            .getRunId();
    var latest =
        client.newWorkflowStub(DeploymentWorkflow.class, DeploymentWorkflow.workflowId(DEP));
    await(env, "the min worker", () -> healthy(latest).equals(List.of(1)));
    await(
        env,
        "a new run",
        () -> {
          try {
            latest.reportDemand(new DemandReport(0, 0));
          } catch (WorkflowNotFoundException betweenRuns) {
            // The test server's continue-as-new is not atomic: signalled between two runs.
          }
          return !runId(client).equals(firstRun);
        });

    var started = startInput(client, firstRun);
    assertThat(started.has("start")).as("the first run's input is flat: " + started).isFalse();
    var continued = startInput(client, runId(client));
    assertThat(continued.path("start").path("mode").asText())
        .as("the new run's input: " + continued)
        .isEqualTo("continued");
    assertThat(continued.has("serving")).isFalse();
    assertThat(
            continued.path("start").path("serving").path("workers").get(0).path("ordinal").asInt())
        .isEqualTo(1);

    engines.kill(DEP + "-w1");
    await(env, "a replacement in the new run", () -> healthy(latest).equals(List.of(2)));
  }

  /** The input a run of the deployment's workflow was started with, as recorded JSON. */
  static JsonNode startInput(WorkflowClient client, String runId) {
    var payload =
        client
            .fetchHistory(DeploymentWorkflow.workflowId(DEP), runId)
            .getEvents()
            .getFirst()
            .getWorkflowExecutionStartedEventAttributes()
            .getInput();
    return DefaultDataConverter.newDefaultInstance()
        .fromPayloads(0, Optional.of(payload), JsonNode.class, JsonNode.class);
  }

  @Test
  void aWorkerWhoseDeploymentIsNotThereKeepsServing(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var w1 = startEnv(env, client, worker, WorkerWorkflow.class, WorkerWorkflow.workflowId(DEP, 1));
    // No deployment workflow: every event it signals is refused as not found (as between two
    // runs of one, on a server whose continue-as-new is not atomic).
    WorkflowClient.start(
        w1::run,
        WorkerWorkflowInput.fresh(
            DEP, 1, spec(1, 1, 60).engine(null), new WorkerSettings(60, true)));

    await(env, "healthy", () -> w1.state().status() == WorkerStatus.HEALTHY);
    env.sleep(Duration.ofSeconds(30));
    assertThat(w1.state().status()).isEqualTo(WorkerStatus.HEALTHY);
    assertThat(status(client, WorkerWorkflow.workflowId(DEP, 1)))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING);

    // It gave up telling its deployment, so it still obeys: drained, it stops and completes.
    w1.drain(new DrainRequest("test"));
    await(
        env,
        "completed",
        () ->
            status(client, WorkerWorkflow.workflowId(DEP, 1))
                == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    assertThat(engines.running).isEmpty();
  }

  @Test
  void aWorkerThatEndedUnseenIsForgottenWhenSignalledAndReplaced(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var wf = start(env, client, worker, spec(1, 2, 60));
    await(env, "the min worker", () -> healthy(wf).equals(List.of(1)));

    // Ended without a word to its deployment, which still counts it.
    client.newUntypedWorkflowStub(WorkerWorkflow.workflowId(DEP, 1)).terminate("test");
    wf.applyEdit(new EditRequest(null, 20, null));

    await(env, "a replacement", () -> healthy(wf).equals(List.of(2)));
    assertThat(wf.state().status()).isEqualTo(DeploymentStatus.RUNNING);
  }

  static WorkflowExecutionStatus status(WorkflowClient client, String workflowId) {
    return client
        .newUntypedWorkflowStub(workflowId)
        .describe()
        .getWorkflowExecutionInfo()
        .getStatus();
  }

  static String runId(WorkflowClient client) {
    return client
        .newUntypedWorkflowStub(DeploymentWorkflow.workflowId(DEP))
        .describe()
        .getExecution()
        .getRunId();
  }
}
