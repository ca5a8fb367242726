package dev.gantry.api.worker;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import io.temporal.activity.ActivityInterface;
import java.util.List;
import java.util.Objects;

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

  /**
   * @param engine what to start, as the worker's workflow received it from its deployment
   * @param decidedAtEpochMillis when the deployment decided to start the worker (its workflow's
   *     start), recorded as the first step of its cold start; 0 when unknown (starts scheduled
   *     before cold starts were recorded)
   */
  record StartWorkerInput(
      String deploymentId,
      int ordinal,
      EngineIdentity engine,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long decidedAtEpochMillis) {

    public StartWorkerInput {
      Objects.requireNonNull(engine, "engine");
    }

    public StartWorkerInput(String deploymentId, int ordinal, EngineIdentity engine) {
      this(deploymentId, ordinal, engine, 0);
    }

    /**
     * Reads this shape, and the flat one of starts scheduled before the engine identity was one
     * value: a start pending when the platform is upgraded still runs.
     */
    @JsonCreator
    static StartWorkerInput fromJson(
        @JsonProperty("deploymentId") String deploymentId,
        @JsonProperty("ordinal") int ordinal,
        @JsonProperty("engine") EngineIdentity engine,
        @JsonProperty("framework") Framework framework,
        @JsonProperty("model") String model,
        @JsonProperty("gpu") GpuSpec gpu,
        @JsonProperty("frameworkArgs") List<String> frameworkArgs,
        @JsonProperty("secretRef") String secretRef,
        @JsonProperty("decidedAtEpochMillis") long decidedAtEpochMillis) {
      return new StartWorkerInput(
          deploymentId,
          ordinal,
          engine != null
              ? engine
              : new EngineIdentity(framework, model, gpu, frameworkArgs, secretRef),
          decidedAtEpochMillis);
    }
  }

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

  /**
   * @param framework the worker's engine, for the cold-start meters' tag; null in inputs recorded
   *     before it was carried
   */
  record RecordWorkerInput(
      String deploymentId,
      String workerId,
      int ordinal,
      WorkerStatus status,
      String gpuType,
      int gpuCount,
      String endpoint,
      String reason,
      Framework framework) {

    public RecordWorkerInput(
        String deploymentId,
        String workerId,
        int ordinal,
        WorkerStatus status,
        String gpuType,
        int gpuCount,
        String endpoint,
        String reason) {
      this(deploymentId, workerId, ordinal, status, gpuType, gpuCount, endpoint, reason, null);
    }
  }
}
