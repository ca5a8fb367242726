package dev.gantry.api.worker;

import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import java.util.List;

/**
 * Starts a worker. {@code secretRef} names the deployment's encrypted env; values are resolved only
 * when the engine process starts, never carried in workflow history.
 *
 * @param serving set when the worker continues as new while healthy
 */
public record WorkerWorkflowInput(
    String deploymentId,
    int ordinal,
    Framework framework,
    String model,
    GpuSpec gpu,
    List<String> frameworkArgs,
    String secretRef,
    WorkerSettings settings,
    Serving serving) {

  public WorkerWorkflowInput {
    frameworkArgs = frameworkArgs == null ? List.of() : List.copyOf(frameworkArgs);
  }

  /** A healthy worker's state, carried across continue-as-new; null when the worker starts. */
  public record Serving(
      String endpoint, String gpuType, int gpuCount, long lastActiveEpochMillis) {}

  public WorkerWorkflowInput continued(WorkerSettings current, Serving state) {
    return new WorkerWorkflowInput(
        deploymentId, ordinal, framework, model, gpu, frameworkArgs, secretRef, current, state);
  }

  public String workerId() {
    return WorkerWorkflow.workerId(deploymentId, ordinal);
  }
}
