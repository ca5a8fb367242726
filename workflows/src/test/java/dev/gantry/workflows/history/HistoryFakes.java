package dev.gantry.workflows.history;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.DeploymentActivities;
import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.api.deployment.StorageActivities;
import dev.gantry.api.job.JobExecution;
import dev.gantry.api.job.JobRecords;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerWorkflow;
import io.temporal.activity.Activity;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.ActivityCompletionException;
import io.temporal.client.WorkflowClient;
import io.temporal.failure.ApplicationFailure;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.function.IntUnaryOperator;

/**
 * Activities for {@link HistoryRecorder}: the control plane's side effects without processes,
 * storage or a database, and a gateway's job execution. Every outcome is chosen up front by the
 * scenario (never by a race), so a re-recorded history takes the same path as the one it replaces.
 * Self-contained on purpose: it depends only on the {@code api} records, so the recorder also runs
 * against older workflow code checked out into a second worktree.
 */
final class HistoryFakes {
  private HistoryFakes() {}

  static final class ControlPlane
      implements DeploymentActivities, StorageActivities, ModelActivities, WorkerActivities {

    /** Engines "running" by worker id, from a successful start until stopped or killed. */
    final Set<String> running = ConcurrentHashMap.newKeySet();

    /** A download failure every attempt throws, or null for a download that succeeds. */
    volatile RuntimeException modelFailure;

    /** Attempts that fail with a retryable error before the download succeeds. */
    final AtomicInteger transientModelFailures = new AtomicInteger();

    /** Holds the download until the scenario opens it; null for no wait. */
    volatile CountDownLatch modelGate;

    /**
     * Calls of the download answered "waiting for a download slot" (the tenant runs its share of
     * downloads) before one downloads.
     */
    final AtomicInteger slotWaits = new AtomicInteger();

    /** The download runs, heartbeating its progress, until it is cancelled (at most 20 s). */
    volatile boolean downloadUntilCancelled;

    /** Opened when a download that runs until cancelled has started. */
    final CountDownLatch downloadRunning = new CountDownLatch(1);

    /** Opened when such a download learnt of its cancellation from a heartbeat and stopped. */
    final CountDownLatch downloadCancelled = new CountDownLatch(1);

    /**
     * The engine's answer to the n-th {@code inFlight} question (from 1): requests in flight, or a
     * thrown failure for an engine that cannot be asked.
     */
    volatile IntUnaryOperator inFlightByCall = call -> 0;

    final AtomicInteger inFlightCalls = new AtomicInteger();

    /**
     * A signal (by name) the engine's answer to {@code inFlight} waits for: the question runs until
     * the worker received and handled that signal (at most 20 s), as one that arrives while the
     * engine is asked. Null for an answer at once.
     */
    volatile String inFlightAnswersAfterSignal;

    /** A failure every scale-in drain throws, or null for drains that stop the engine. */
    volatile RuntimeException scaleInFailure;

    /**
     * Scale-in drains wait for live generations (hours, as a real one may): they heartbeat until
     * the workflow cancels them, leaving the engine running.
     */
    volatile boolean scaleInUntilCancelled;

    /** Counted down when a scale-in drain that waits for its cancellation is under way. */
    final CountDownLatch scaleInRunning = new CountDownLatch(1);

    /** Counted down when such a scale-in drain learnt of its cancellation. */
    final CountDownLatch scaleInCancelled = new CountDownLatch(1);

    /** Engines stopped by a scale-in drain (reaped for idleness), by worker id. */
    final Set<String> scaleInStops = ConcurrentHashMap.newKeySet();

    /** Worker ordinals from which a start is refused for lack of GPUs; 0 for never. */
    volatile int refuseFromOrdinal;

    /** Worker ids whose engine exits while starting (the health check fails). */
    final Set<String> crashWhileStarting = ConcurrentHashMap.newKeySet();

    /** Worker ids whose engine never turns healthy; their health check ends when it is stopped. */
    final Set<String> neverHealthy = ConcurrentHashMap.newKeySet();

    volatile WorkflowClient client;

    /** Every status written, as {@code status} or {@code status(reason)}, in order. */
    final List<String> statuses = new CopyOnWriteArrayList<>();

    @Override
    public void recordStatus(RecordStatusInput input) {
      statuses.add(
          input.status().wireName() + (input.reason() == null ? "" : "(" + input.reason() + ")"));
    }

    @Override
    public void recordSpec(RecordSpecInput input) {}

    /** Asked before an idle reap; idle (0) unless the scenario scripts otherwise. */
    @Override
    public int inFlight(WorkerRef worker) {
      int call = inFlightCalls.incrementAndGet();
      String signal = inFlightAnswersAfterSignal;
      if (signal != null) {
        awaitHandledSignal(WorkerWorkflow.workflowIdOf(worker.workerId()), signal);
      }
      return inFlightByCall.applyAsInt(call);
    }

    /**
     * Waits until the workflow's history has the signal and a workflow task completed after it, so
     * the answer comes after the signal was handled and recording again gives the same history.
     */
    private void awaitHandledSignal(String workflowId, String signal) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!handledSignal(client.fetchHistory(workflowId).getEvents(), signal)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("no " + signal + " signal reached " + workflowId);
        }
        sleepQuietly(10);
      }
    }

    private static boolean handledSignal(List<HistoryEvent> events, String signal) {
      boolean signalled = false;
      for (var e : events) {
        if (e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            && e.getWorkflowExecutionSignaledEventAttributes().getSignalName().equals(signal)) {
          signalled = true;
        } else if (signalled && e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
          return true;
        }
      }
      return false;
    }

    @Override
    public StorageInfo createStorage(StorageRequest request) {
      return new StorageInfo("/data/storage/" + request.deploymentId());
    }

    @Override
    public void removeStorage(StorageRequest request) {}

    @Override
    public ModelInfo prepareModel(PrepareModelInput input) {
      if (slotWaits.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        return ModelInfo.waiting(
            "waiting for a download slot: this tenant already runs 2 model downloads at once");
      }
      if (downloadUntilCancelled) {
        heartbeatUntilCancelled();
      }
      if (transientModelFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw ApplicationFailure.newFailure(
            "network error downloading model-00001-of-00002.safetensors: connection reset",
            FailureType.TRANSIENT.name());
      }
      var gate = modelGate;
      if (gate != null) {
        awaitQuietly(gate);
      }
      if (modelFailure != null) {
        throw modelFailure;
      }
      return new ModelInfo(input.storageLocation() + "/model", 1_000_000L);
    }

    @Override
    public StartedWorker startWorker(StartWorkerInput input) {
      String id = WorkerWorkflow.workerId(input.deploymentId(), input.ordinal());
      if (refuseFromOrdinal > 0 && input.ordinal() >= refuseFromOrdinal) {
        throw ApplicationFailure.newNonRetryableFailure(
            "no GPU free for scale-up: needs 1 × H100", FailureType.NO_GPU_CAPACITY.name());
      }
      running.add(id);
      return new StartedWorker("http://127.0.0.1:9000/" + id, null, 1);
    }

    @Override
    public void awaitHealthy(WorkerRef worker) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (neverHealthy.contains(worker.workerId()) && running.contains(worker.workerId())) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the scenario never stopped " + worker.workerId());
        }
        sleepQuietly(10);
      }
      if (!running.contains(worker.workerId())) {
        throw ApplicationFailure.newNonRetryableFailure(
            "the engine was stopped while starting", FailureType.ENGINE_FAILED.name());
      }
      if (crashWhileStarting.contains(worker.workerId())) {
        running.remove(worker.workerId());
        throw ApplicationFailure.newNonRetryableFailure(
            "the engine exited while starting: engine exited with code 1: CUDA out of memory",
            FailureType.ENGINE_FAILED.name());
      }
    }

    @Override
    public void stopEngine(StopEngineInput input) {
      if (input.scaleIn()) {
        scaleInStops.add(input.worker().workerId());
        if (scaleInFailure != null) {
          throw scaleInFailure;
        }
        if (scaleInUntilCancelled) {
          scaleInRunning.countDown();
          heartbeatUntilCancelled(null, scaleInCancelled);
        }
      }
      running.remove(input.worker().workerId());
    }

    /**
     * A download in progress: heartbeats its progress until the workflow cancels it, which the
     * activity learns from a heartbeat (an {@link ActivityCompletionException}), as the real one.
     */
    private void heartbeatUntilCancelled() {
      downloadRunning.countDown();
      heartbeatUntilCancelled(0L, downloadCancelled);
    }

    /**
     * Heartbeats (download progress when {@code progress} is not null) until the workflow cancels
     * the activity; counts {@code cancelled} down when it learnt of that.
     */
    private static void heartbeatUntilCancelled(Long progress, CountDownLatch cancelled) {
      var context = Activity.getExecutionContext();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      long done = progress == null ? 0 : progress;
      try {
        while (System.nanoTime() < deadline) {
          done += 10_000_000L;
          context.heartbeat(progress == null ? null : new DownloadProgress(done, 16_000_000_000L));
          Thread.sleep(100);
        }
      } catch (ActivityCompletionException e) {
        cancelled.countDown();
        throw e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("the activity was never cancelled");
    }

    @Override
    public void recordWorker(RecordWorkerInput input) {}

    /** SIGKILL from outside; the runtime's watcher reports the exit to the worker's workflow. */
    void kill(String workerId) {
      running.remove(workerId);
      client
          .newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowIdOf(workerId))
          .engineExited(new EngineExited(137, "engine exited with code 137 (killed by SIGKILL)"));
    }
  }

  /**
   * The control plane's download activity alone, for the {@code gantry-downloads} task queue's
   * worker (which, as the orchestrator's, runs nothing else).
   */
  static final class Downloads implements ModelActivities {
    private final ControlPlane control;

    Downloads(ControlPlane control) {
      this.control = control;
    }

    @Override
    public ModelInfo prepareModel(PrepareModelInput input) {
      return control.prepareModel(input);
    }
  }

  /** A gateway running jobs: each attempt's result is scripted by its number. */
  static final class Jobs implements JobExecution, JobRecords {
    final AtomicInteger attempts = new AtomicInteger();
    final CountDownLatch started = new CountDownLatch(1);
    volatile IntFunction<JobState> script = attempt -> new JobState(JobStatus.COMPLETED, 200, null);

    @Override
    public JobState execute(ExecuteJob input) {
      int attempt = attempts.incrementAndGet();
      started.countDown();
      return script.apply(attempt);
    }

    @Override
    public void recordOutcome(JobOutcome outcome) {}

    /** Heartbeats until cancelled (the cancellation surfaces in a heartbeat), at most 20 s. */
    static JobState heartbeatUntilCancelled() {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      try {
        while (System.nanoTime() < deadline) {
          Activity.getExecutionContext().heartbeat(null);
          Thread.sleep(100);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      // A cancellation ends the loop by an ActivityCompletionException out of heartbeat().
      throw new IllegalStateException("the job was never cancelled");
    }
  }

  static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
