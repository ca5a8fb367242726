package dev.gantry.workflows.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.gantry.api.FailureType;
import dev.gantry.api.TaskQueues;
import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DeploymentActivities;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.api.deployment.StorageActivities;
import io.temporal.activity.Activity;
import io.temporal.client.ActivityCompletionException;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

@Timeout(30)
class DeploymentWorkflowTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(DeploymentWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  static final DeploymentSpec SPEC =
      new DeploymentSpec(
          "chat", "tiny", Framework.SIM, null, 0, 1, 8, 300, 60, 5, List.of(), List.of());

  static final DeploymentSpec VLLM_SPEC =
      new DeploymentSpec(
          "chat",
          "org/model",
          Framework.VLLM,
          new dev.gantry.api.deployment.GpuSpec("L4", 1, List.of()),
          0,
          1,
          8,
          300,
          60,
          5,
          List.of(),
          List.of());

  /** Records every side effect in order, so tests assert on what ran and in which order. */
  static final class Recorder implements DeploymentActivities, StorageActivities, ModelActivities {
    final List<String> calls = new CopyOnWriteArrayList<>();
    volatile RuntimeException modelFailure;
    volatile CountDownLatch modelGate;
    final java.util.concurrent.atomic.AtomicInteger transientFailuresLeft =
        new java.util.concurrent.atomic.AtomicInteger();
    volatile PrepareModelInput lastModelInput;
    final List<String> modelQueues = new CopyOnWriteArrayList<>();
    final java.util.concurrent.atomic.AtomicInteger slotWaitsLeft =
        new java.util.concurrent.atomic.AtomicInteger();
    volatile boolean failForever;
    volatile boolean heartbeatUntilCancelled;

    @Override
    public void recordStatus(RecordStatusInput input) {
      calls.add("status:" + input.status().wireName() + reasonSuffix(input.reason()));
    }

    private static String reasonSuffix(String reason) {
      return reason == null ? "" : "(" + reason + ")";
    }

    @Override
    public void recordSpec(RecordSpecInput input) {
      calls.add("spec:" + input.spec().name() + "/" + input.spec().idleTimeoutSeconds());
    }

    @Override
    public StorageInfo createStorage(StorageRequest request) {
      calls.add("createStorage");
      return new StorageInfo("/data/storage/" + request.deploymentId());
    }

    /** Runs as storage is removed (before the call is recorded); nothing when null. */
    volatile Runnable onRemoveStorage;

    @Override
    public void removeStorage(StorageRequest request) {
      if (onRemoveStorage != null) {
        onRemoveStorage.run();
      }
      calls.add("removeStorage");
    }

    @Override
    public ModelInfo prepareModel(PrepareModelInput input) {
      calls.add("prepareModel");
      lastModelInput = input;
      modelQueues.add(Activity.getExecutionContext().getInfo().getActivityTaskQueue());
      if (slotWaitsLeft.getAndDecrement() > 0) {
        return ModelInfo.waiting("waiting for a download slot: 4 of this tenant's run already");
      }
      if (failForever) {
        throw ApplicationFailure.newFailure(
            "the model endpoint could not be reached", FailureType.TRANSIENT.name());
      }
      if (heartbeatUntilCancelled) {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        try {
          while (System.nanoTime() < until) {
            Activity.getExecutionContext().heartbeat(null);
            Thread.sleep(100);
          }
        } catch (ActivityCompletionException e) {
          calls.add("prepareModel:cancelled");
          throw e;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (transientFailuresLeft.getAndDecrement() > 0) {
        throw ApplicationFailure.newFailure(
            "network error downloading model-00001-of-00002.safetensors: connection reset",
            FailureType.TRANSIENT.name());
      }
      if (modelGate != null) {
        try {
          modelGate.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (modelFailure != null) {
        throw modelFailure;
      }
      return new ModelInfo(input.storageLocation() + "/model", 10);
    }
  }

  private static DeploymentWorkflow start(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker, Recorder recorder) {
    return start(env, client, worker, recorder, SPEC);
  }

  private static DeploymentWorkflow start(
      TestWorkflowEnvironment env,
      WorkflowClient client,
      Worker worker,
      Recorder recorder,
      DeploymentSpec spec) {
    worker.registerActivitiesImplementations(recorder);
    env.newWorker(TaskQueues.DOWNLOADS).registerActivitiesImplementations(recorder);
    env.start();
    var wf =
        client.newWorkflowStub(
            DeploymentWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(worker.getTaskQueue())
                .setWorkflowId(DeploymentWorkflow.workflowId("dep_test"))
                .build());
    WorkflowClient.start(wf::run, DeploymentWorkflowInput.fresh("dep_test", "t1", spec, null));
    return wf;
  }

  private static void awaitStatus(
      TestWorkflowEnvironment env, DeploymentWorkflow wf, DeploymentStatus expected) {
    // Retries with backoff span minutes of virtual time: step through them in half seconds, so
    // a slow machine needs few wall-clock polls rather than thousands.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (wf.state().status() != expected) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("status stayed " + wf.state().status() + ", wanted " + expected);
      }
      env.sleep(Duration.ofMillis(500));
    }
  }

  @Test
  void provisionsThroughEveryStateToRunningThenDeletes(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);

    wf.requestDelete(new DeleteRequest("key_1"));
    var result =
        WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    assertThat(recorder.calls)
        .containsExactly(
            "createStorage",
            "status:filesystem_created",
            "status:downloading_model",
            "prepareModel",
            "status:model_downloaded",
            "status:running",
            "status:deleting",
            "removeStorage",
            "status:deleted");
  }

  @Test
  void permanentModelFailureCompensatesAndFailsWithTheReason(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.modelFailure =
        ApplicationFailure.newNonRetryableFailure(
            "add an HF_TOKEN with access", FailureType.MODEL_ACCESS_DENIED.name());
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.FAILED);

    assertThat(wf.state().statusReason())
        .isEqualTo("model download failed: add an HF_TOKEN with access");
    assertThat(recorder.calls)
        .containsExactly(
            "createStorage",
            "status:filesystem_created",
            "status:downloading_model",
            "prepareModel",
            "status:cleaning(model download failed: add an HF_TOKEN with access)",
            "removeStorage",
            "status:failed(model download failed: add an HF_TOKEN with access)");

    // A failed deployment can still be deleted, and deletion is clean and complete.
    wf.requestDelete(new DeleteRequest("key_1"));
    WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);
    assertThat(recorder.calls.subList(7, recorder.calls.size()))
        .containsExactly("status:deleting", "removeStorage", "status:deleted");
  }

  @Test
  void transientFailureIsRetriedBeforeGivingUp(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.modelFailure = ApplicationFailure.newFailure("connection reset", "TRANSIENT");
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.FAILED);

    assertThat(recorder.calls.stream().filter("prepareModel"::equals).count()).isEqualTo(8);
    assertThat(wf.state().statusReason()).isEqualTo("model download failed: connection reset");
    assertThat(recorder.calls).contains("removeStorage");
  }

  @Test
  void retryableDownloadFailuresAreRetriedWithBackoffUntilTheDownloadSucceeds(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.transientFailuresLeft.set(3);
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);

    assertThat(recorder.calls.stream().filter("prepareModel"::equals).count()).isEqualTo(4);
    assertThat(recorder.calls)
        .doesNotContain("removeStorage")
        .noneMatch(c -> c.startsWith("status:cleaning") || c.startsWith("status:failed"));
    // The storage size travels with the request; secret values never do, only the reference.
    assertThat(recorder.lastModelInput.storageGb()).isEqualTo(SPEC.storageGb());
    assertThat(recorder.lastModelInput.storageLocation()).isEqualTo("/data/storage/dep_test");
  }

  @Test
  void storageFullFailsAtOnceAndCleansUp(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.modelFailure =
        ApplicationFailure.newNonRetryableFailure(
            "the model needs 15.2 GB but the deployment's storage_gb is 5",
            FailureType.STORAGE_FULL.name());
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.FAILED);

    assertThat(recorder.calls.stream().filter("prepareModel"::equals).count()).isEqualTo(1);
    assertThat(wf.state().statusReason())
        .isEqualTo(
            "model download failed: the model needs 15.2 GB but the deployment's storage_gb is 5");
    assertThat(recorder.calls.subList(recorder.calls.size() - 3, recorder.calls.size()))
        .containsExactly(
            "status:cleaning(model download failed: the model needs 15.2 GB but the deployment's"
                + " storage_gb is 5)",
            "removeStorage",
            "status:failed(model download failed: the model needs 15.2 GB but the deployment's"
                + " storage_gb is 5)");
  }

  @Test
  void deleteDuringProvisioningCleansUpAndEndsDeleted(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) throws Exception {
    var recorder = new Recorder();
    recorder.modelGate = new CountDownLatch(1);
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.DOWNLOADING_MODEL);

    wf.requestDelete(new DeleteRequest("key_1"));
    recorder.modelGate.countDown();
    for (int i = 0; i < 20; i++) {
      env.sleep(Duration.ofMillis(200));
      System.err.println("DBG " + wf.state().status() + " " + recorder.calls);
    }
    client
        .fetchHistory(DeploymentWorkflow.workflowId("dep_test"))
        .getEvents()
        .forEach(e -> System.err.println("EV " + e.getEventType()));
    var result =
        WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    assertThat(recorder.calls).doesNotContain("status:running", "status:failed");
    assertThat(recorder.calls.subList(recorder.calls.size() - 3, recorder.calls.size()))
        .containsExactly("status:deleting", "removeStorage", "status:deleted");
  }

  @Test
  void deleteWhileTheDownloadIsRetriedEndsDeletedPromptlyWithoutAnotherAttempt(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.failForever = true;
    var wf = start(env, client, worker, recorder, VLLM_SPEC);
    awaitStatus(env, wf, DeploymentStatus.DOWNLOADING_MODEL);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (recorder.calls.stream().filter("prepareModel"::equals).count() < 2) {
      assertThat(System.nanoTime()).isLessThan(deadline);
      env.sleep(Duration.ofMillis(500));
    }

    long attemptsBefore = recorder.calls.stream().filter("prepareModel"::equals).count();
    wf.requestDelete(new DeleteRequest("key_1"));
    var result =
        WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    // Deleted within the pending backoff at most, not after the remaining attempts: counted in
    // attempts, not in virtual time, which the time-skipping server may jump far ahead while an
    // activity runs on a real thread (it once did, by its ten-year horizon, under load).
    assertThat(recorder.calls.stream().filter("prepareModel"::equals).count())
        .isLessThanOrEqualTo(attemptsBefore + 1);
    assertThat(recorder.calls)
        .noneMatch(c -> c.startsWith("status:failed") || c.startsWith("status:cleaning"));
    assertThat(recorder.calls.subList(recorder.calls.size() - 3, recorder.calls.size()))
        .containsExactly("status:deleting", "removeStorage", "status:deleted");
  }

  @Test
  void deleteCancelsARunningDownloadThroughItsHeartbeat(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.heartbeatUntilCancelled = true;
    var wf = start(env, client, worker, recorder, VLLM_SPEC);
    awaitStatus(env, wf, DeploymentStatus.DOWNLOADING_MODEL);

    wf.requestDelete(new DeleteRequest("key_1"));
    var result =
        WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    assertThat(recorder.calls).contains("prepareModel:cancelled");
    // The download acknowledged the cancellation before storage was removed.
    assertThat(recorder.calls.indexOf("prepareModel:cancelled"))
        .isLessThan(recorder.calls.lastIndexOf("removeStorage"));
  }

  @Test
  void aTenantOverItsDownloadShareWaitsVisiblyAndThenDownloads(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.slotWaitsLeft.set(2);
    var wf = start(env, client, worker, recorder, VLLM_SPEC);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);

    assertThat(recorder.calls.stream().filter("prepareModel"::equals).count()).isEqualTo(3);
    assertThat(recorder.calls)
        .containsSubsequence(
            "status:downloading_model",
            "prepareModel",
            "status:downloading_model(waiting for a download slot: 4 of this tenant's run"
                + " already)",
            "prepareModel",
            "prepareModel",
            "status:model_downloaded");
  }

  @Test
  void deleteWhileWaitingForADownloadSlotEndsDeletedAtOnce(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.slotWaitsLeft.set(1_000);
    var wf = start(env, client, worker, recorder, VLLM_SPEC);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (recorder.calls.stream().noneMatch(c -> c.contains("waiting for a download slot"))) {
      assertThat(System.nanoTime()).isLessThan(deadline);
      env.sleep(Duration.ofMillis(500));
    }

    long callsBefore = recorder.calls.stream().filter("prepareModel"::equals).count();
    wf.requestDelete(new DeleteRequest("key_1"));
    var result =
        WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);

    assertThat(result.status()).isEqualTo(DeploymentStatus.DELETED);
    // The pending wait for a slot is cancelled, not sat out (a thousand waits of up to a minute).
    // While the deleting status is recorded the time-skipping server may fire the pending timer of
    // the wait: one more call may pass, no more. Counted in calls, not in virtual time, which the
    // server may jump far ahead while an activity runs on a real thread (it once did, by its
    // ten-year horizon, under load).
    assertThat(recorder.calls.stream().filter("prepareModel"::equals).count() - callsBefore)
        .isLessThanOrEqualTo(1);
    assertThat(recorder.calls.subList(recorder.calls.size() - 3, recorder.calls.size()))
        .containsExactly("status:deleting", "removeStorage", "status:deleted");
  }

  @Test
  void downloadsRunOnTheirOwnQueueAndSimNeverEntersIt(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    var wf = start(env, client, worker, recorder, VLLM_SPEC);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);
    assertThat(recorder.modelQueues).containsExactly(TaskQueues.DOWNLOADS);
  }

  @Test
  void simIsPreparedOnTheControlQueue(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);
    assertThat(recorder.modelQueues).containsExactly(worker.getTaskQueue());
  }

  /**
   * A history recorded by the release before deletion could cancel a download (a delete while a
   * vLLM model downloads, the download then completing) replays unchanged on this code.
   */
  @Test
  void aHistoryFromBeforeTheCancellableDownloadStillReplays() throws Exception {
    io.temporal.testing.WorkflowReplayer.replayWorkflowExecutionFromResource(
        "histories/deployment/deleted-while-downloading-before-cancellable-download.json",
        DeploymentWorkflowImpl.class);
  }

  @Test
  void deleteTwiceIsHarmless(TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);
    wf.requestDelete(new DeleteRequest("key_1"));
    wf.requestDelete(new DeleteRequest("key_1"));
    WorkflowStub.fromTyped(wf).getResult(dev.gantry.api.deployment.DeploymentState.class);
    assertThat(recorder.calls.stream().filter("removeStorage"::equals).count()).isEqualTo(1);
  }

  @Test
  void editOfRunningDeploymentIsPersistedAndVisible(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);

    var state = wf.applyEdit(new EditRequest("renamed", 42, null));

    assertThat(state.spec().name()).isEqualTo("renamed");
    assertThat(state.spec().idleTimeoutSeconds()).isEqualTo(42);
    assertThat(state.spec().waitTimeSeconds()).isEqualTo(60);
    assertThat(recorder.calls).contains("spec:renamed/42");
    assertThatThrownBy(() -> wf.applyEdit(new EditRequest(null, 0, null)))
        .isInstanceOf(WorkflowUpdateException.class);
    assertThat(wf.state().spec().idleTimeoutSeconds()).isEqualTo(42);
  }

  /** Why the workflow refused an update, as the API's 409 detail then says it. */
  private static String refusalOf(Runnable update) {
    var e = catchThrowableOfType(WorkflowUpdateException.class, update::run);
    assertThat(e).as("the update was refused").isNotNull();
    assertThat(e.getCause()).isInstanceOf(ApplicationFailure.class);
    return ((ApplicationFailure) e.getCause()).getOriginalMessage();
  }

  @Test
  void anEditBreakingTheEditRulesIsRefusedWithTheirMessages(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.RUNNING);

    // The same rules as the API's validator, without the configured upper bounds.
    assertThat(refusalOf(() -> wf.applyEdit(new EditRequest(" ", null, null))))
        .isEqualTo("name must not be blank");
    assertThat(refusalOf(() -> wf.applyEdit(new EditRequest("x".repeat(101), 0, -1))))
        .isEqualTo(
            "name must be at most 100 characters; idle_timeout_seconds must be positive;"
                + " wait_time_seconds must be positive");
    assertThat(recorder.calls).noneMatch(c -> c.startsWith("spec:"));
    assertThat(wf.state().spec().name()).isEqualTo("chat");

    // Applied as the API applies it: the name stripped.
    assertThat(wf.applyEdit(new EditRequest(" chat-2 ", null, null)).spec().name())
        .isEqualTo("chat-2");
  }

  @Test
  void editIsRefusedUntilRunning(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var recorder = new Recorder();
    recorder.modelFailure =
        ApplicationFailure.newNonRetryableFailure("nope", FailureType.MODEL_NOT_FOUND.name());
    var wf = start(env, client, worker, recorder);
    awaitStatus(env, wf, DeploymentStatus.FAILED);
    // The API's own 409 detail, whichever of the service and the workflow refused first.
    assertThat(refusalOf(() -> wf.applyEdit(new EditRequest("x", null, null))))
        .isEqualTo("Only a running deployment can be edited; this one is failed.");
    assertThat(recorder.calls).noneMatch(c -> c.startsWith("spec:"));
  }
}
