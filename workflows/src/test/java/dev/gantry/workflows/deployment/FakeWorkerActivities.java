package dev.gantry.workflows.deployment;

import dev.gantry.api.FailureType;
import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerWorkflow;
import io.temporal.activity.Activity;
import io.temporal.api.enums.v1.EventType;
import io.temporal.client.ActivityCompletionException;
import io.temporal.client.WorkflowClient;
import io.temporal.failure.ApplicationFailure;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Engines without processes: each worker's engine "runs" from start until the test kills it (and,
 * like the runtime's watcher, signals the worker's workflow) or the workflow stops it.
 */
final class FakeWorkerActivities implements WorkerActivities {
  final List<String> calls = new CopyOnWriteArrayList<>();

  /** Virtual (test server) time of each engine start, in order. */
  final List<Long> startTimes = new CopyOnWriteArrayList<>();

  final Set<String> running = ConcurrentHashMap.newKeySet();
  private final AtomicInteger slotsInUse = new AtomicInteger();
  volatile int slots = Integer.MAX_VALUE;

  /** Engines that crash while starting, counted down per start. */
  final AtomicInteger failingStarts = new AtomicInteger();

  volatile WorkflowClient client;

  /** Requests each engine reports running (by worker id); none when absent. */
  final Map<String, Integer> inFlight = new ConcurrentHashMap<>();

  @Override
  public StartedWorker startWorker(StartWorkerInput input) {
    String id = input.deploymentId() + "-w" + input.ordinal();
    if (running.contains(id)) {
      return new StartedWorker("http://fake/" + id, null, 1);
    }
    if (slotsInUse.incrementAndGet() > slots) {
      slotsInUse.decrementAndGet();
      calls.add("refused:w" + input.ordinal());
      throw ApplicationFailure.newNonRetryableFailure(
          "no GPU free for scale-up: needs 1 × H100", FailureType.NO_GPU_CAPACITY.name());
    }
    calls.add("start:w" + input.ordinal());
    startTimes.add(Activity.getExecutionContext().getInfo().getScheduledTimestamp());
    running.add(id);
    return new StartedWorker("http://fake/" + id, null, 1);
  }

  @Override
  public void awaitHealthy(WorkerRef worker) {
    if (failingStarts.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      if (running.remove(worker.workerId())) {
        slotsInUse.decrementAndGet();
      }
      throw ApplicationFailure.newNonRetryableFailure(
          "the engine exited while starting: engine exited with code 1: CUDA out of memory",
          FailureType.ENGINE_FAILED.name());
    }
    calls.add("healthy:" + shortId(worker.workerId()));
  }

  @Override
  public void stopEngine(StopEngineInput input) {
    String id = input.worker().workerId();
    calls.add((input.drain() ? "drain:" : "stop:") + shortId(id));
    if (input.scaleIn()) {
      calls.add("scale-in:" + shortId(id));
      if (scaleInUntilCancelled) {
        heartbeatUntilCancelled("scale-in-cancelled:" + shortId(id));
      }
    }
    if (running.remove(id)) {
      slotsInUse.decrementAndGet();
    }
  }

  /**
   * Scale-in stops wait for live generations (hours, as a real one may): they heartbeat until the
   * workflow cancels them, leaving the engine running.
   */
  volatile boolean scaleInUntilCancelled;

  private void heartbeatUntilCancelled(String onCancel) {
    var context = Activity.getExecutionContext();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    try {
      while (System.nanoTime() < deadline) {
        context.heartbeat(null);
        Thread.sleep(50);
      }
    } catch (ActivityCompletionException e) {
      calls.add(onCancel);
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    throw ApplicationFailure.newNonRetryableFailure("never cancelled", "TEST");
  }

  /**
   * A signal (by name, e.g. {@code drain}) that the engine's answer to {@code inFlight} waits for:
   * the question then runs until that signal reached the worker's history (at most 20 s), as one
   * that arrives while the engine is asked. Null for an answer at once.
   */
  volatile String inFlightAnswersAfterSignal;

  @Override
  public int inFlight(WorkerRef worker) {
    calls.add("inFlight:" + shortId(worker.workerId()));
    String signal = inFlightAnswersAfterSignal;
    if (signal != null) {
      awaitSignal(WorkerWorkflow.workflowIdOf(worker.workerId()), signal);
    }
    return inFlight.getOrDefault(worker.workerId(), 0);
  }

  private void awaitSignal(String workflowId, String signal) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (client.fetchHistory(workflowId).getEvents().stream()
        .noneMatch(
            e ->
                e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                    && e.getWorkflowExecutionSignaledEventAttributes()
                        .getSignalName()
                        .equals(signal))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no " + signal + " signal reached " + workflowId);
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  @Override
  public void recordWorker(RecordWorkerInput input) {
    calls.add("record:w" + input.ordinal() + ":" + input.status().wireName());
  }

  /** SIGKILL from outside, as an operator or the OOM killer would; the watcher reports it. */
  void kill(String workerId) {
    if (running.remove(workerId)) {
      slotsInUse.decrementAndGet();
    }
    client
        .newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowIdOf(workerId))
        .engineExited(new EngineExited(137, "engine exited with code 137 (killed by SIGKILL)"));
  }

  private static String shortId(String workerId) {
    return workerId.substring(workerId.lastIndexOf('-') + 1);
  }

  long count(String prefix) {
    return calls.stream().filter(c -> c.startsWith(prefix)).count();
  }
}
