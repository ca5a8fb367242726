package dev.gantry.gateway.deployment;

import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.worker.ActivityReport;

/** The control plane as the management API sees it. Blocking; call off the event loop. */
public interface DeploymentOrchestrator {

  /** Starts the deployment's workflow; starting one that already runs is not an error. */
  void start(DeploymentWorkflowInput input);

  /**
   * Asks the workflow to delete, starting it first if it is not running (so delete never gets
   * lost).
   */
  void requestDelete(DeploymentWorkflowInput input, DeleteRequest request);

  /** Applies an edit through the workflow, which validates it against the deployment's state. */
  DeploymentState edit(String deploymentId, EditRequest request) throws EditRejectedException;

  /** Hands the deployment's autoscaler a demand snapshot. */
  void reportDemand(String deploymentId, DemandReport report);

  /** Tells a worker it served requests, which moves its idle timer. */
  void reportWorkerActivity(String workerId, ActivityReport report);

  /** The workflow refused an edit, e.g. because the deployment is not running. */
  class EditRejectedException extends Exception {
    public EditRejectedException(String message) {
      super(message);
    }
  }
}
