package dev.gantry.api.deployment;

import dev.gantry.api.worker.WorkerEvent;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.UpdateValidatorMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * The entity workflow that owns one deployment: provisioning saga, serving loop, deletion. Its id
 * is {@link #workflowId(String)}, so a retried create never starts a second one.
 */
@WorkflowInterface
public interface DeploymentWorkflow {

  static String workflowId(String deploymentId) {
    return "deployment/" + deploymentId;
  }

  @WorkflowMethod
  DeploymentState run(DeploymentWorkflowInput input);

  @SignalMethod
  void requestDelete(DeleteRequest request);

  /** The gateway's coalesced demand: requests in flight and queued for this deployment. */
  @SignalMethod
  void reportDemand(DemandReport report);

  /** A worker became healthy, started draining, or ended. */
  @SignalMethod
  void workerChanged(WorkerEvent event);

  @UpdateMethod
  DeploymentState applyEdit(EditRequest request);

  @UpdateValidatorMethod(updateName = "applyEdit")
  void validateEdit(EditRequest request);

  @QueryMethod
  DeploymentState state();
}
