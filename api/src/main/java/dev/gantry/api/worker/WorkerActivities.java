package dev.gantry.api.worker;

import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import io.temporal.activity.ActivityInterface;
import java.util.List;

/** Side effects of a worker's life, over the runtime (local processes or Kubernetes). */
@ActivityInterface
public interface WorkerActivities {

  /**
   * Takes GPUs, records the worker as {@code provisioning} and starts its engine. Idempotent: a
   * retry returns the engine already started. Fails with {@code NO_GPU_CAPACITY} (nothing recorded)
   * or {@code ENGINE_NOT_FOUND}.
   */
  StartedWorker startWorker(StartWorkerInput input);

  /**
   * Probes the engine until it answers healthy, heartbeating; fails with {@code ENGINE_FAILED} when
   * the engine exits or misses the start deadline, with a reason a user can act on. Once healthy,
   * the engine is watched: its exit is signalled to the worker's workflow ({@link
   * WorkerWorkflow#engineExited}), so a serving worker costs Temporal nothing while it runs.
   */
  void awaitHealthy(WorkerRef worker);

  /**
   * Stops the engine: when {@code drain}, first waits (bounded) for in-flight requests to finish.
   * Then SIGTERM, SIGKILL after a grace period, GPUs released. Idempotent.
   */
  void stopEngine(StopEngineInput input);

  /**
   * Requests the engine is running or queuing now, from its own metrics; -1 when it cannot tell (no
   * metrics route, not answering, not running). Asked before an idle worker is reaped: the
   * gateways' activity reports can lag behind an edited idle timeout.
   */
  int inFlight(WorkerRef worker);

  /** Writes the worker's row; the only path by which worker status changes. */
  void recordWorker(RecordWorkerInput input);

  record StartWorkerInput(
      String deploymentId,
      int ordinal,
      Framework framework,
      String model,
      GpuSpec gpu,
      List<String> frameworkArgs,
      String secretRef) {}

  record StartedWorker(String endpoint, String gpuType, int gpuCount) {}

  record WorkerRef(String deploymentId, String workerId, Framework framework) {}

  /**
   * @param drain wait for in-flight requests first
   * @param scaleIn the worker was reaped for idleness: the wait is bounded by the long scale-in
   *     drain timeout, so live generations finish, rather than by the stop drain timeout
   */
  record StopEngineInput(WorkerRef worker, boolean drain, boolean scaleIn) {
    public StopEngineInput(WorkerRef worker, boolean drain) {
      this(worker, drain, false);
    }
  }

  record RecordWorkerInput(
      String deploymentId,
      String workerId,
      int ordinal,
      WorkerStatus status,
      String gpuType,
      int gpuCount,
      String endpoint,
      String reason) {}
}
