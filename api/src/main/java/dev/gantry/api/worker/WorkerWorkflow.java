package dev.gantry.api.worker;

import dev.gantry.api.deployment.DeploymentWorkflow;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * One worker's life, a child of its deployment's workflow: provisioning, healthy (with an idle
 * timer that moves when the worker is used), draining, stopped; or failed. Its id is derived from
 * the deployment and an ordinal that only grows, so a retry or a crash never starts a second one.
 */
@WorkflowInterface
public interface WorkerWorkflow {

  static String workflowId(String deploymentId, int ordinal) {
    return DeploymentWorkflow.workflowId(deploymentId) + "/worker/" + ordinal;
  }

  static String workerId(String deploymentId, int ordinal) {
    return deploymentId + "-w" + ordinal;
  }

  /** The inverse of {@link #workerId}: the workflow id of a worker id. */
  static String workflowIdOf(String workerId) {
    int dash = workerId.lastIndexOf("-w");
    return workflowId(workerId.substring(0, dash), Integer.parseInt(workerId.substring(dash + 2)));
  }

  @WorkflowMethod
  WorkerOutcome run(WorkerWorkflowInput input);

  /** The gateway's coalesced report that the worker served requests; moves the idle timer. */
  @SignalMethod
  void reportActivity(ActivityReport report);

  /** New settings from the deployment: an edited idle timeout, or keep-warm (min worker) status. */
  @SignalMethod
  void configure(WorkerSettings settings);

  /** Stop routing to the worker, let in-flight requests finish, then stop the engine. */
  @SignalMethod
  void drain(DrainRequest request);

  /** The engine exited while the worker served: sent by the runtime's watcher or its sweeper. */
  @SignalMethod
  void engineExited(EngineExited exit);

  @QueryMethod
  WorkerState state();
}
