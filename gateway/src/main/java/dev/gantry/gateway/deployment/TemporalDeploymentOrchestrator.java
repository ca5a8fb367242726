package dev.gantry.gateway.deployment;

import dev.gantry.api.TaskQueues;
import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.api.worker.WorkerWorkflow;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import org.springframework.stereotype.Component;

/** Drives deployments through their Temporal entity workflows. */
@Component
public class TemporalDeploymentOrchestrator implements DeploymentOrchestrator {
  private final WorkflowClient client;

  public TemporalDeploymentOrchestrator(WorkflowClient client) {
    this.client = client;
  }

  private DeploymentWorkflow newStub(String deploymentId) {
    return client.newWorkflowStub(
        DeploymentWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(TaskQueues.CONTROL)
            .setWorkflowId(DeploymentWorkflow.workflowId(deploymentId))
            // A retried start joins the running workflow instead of making a second one.
            .setWorkflowIdConflictPolicy(
                WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
            .build());
  }

  @Override
  public void start(DeploymentWorkflowInput input) {
    try {
      WorkflowClient.start(newStub(input.deploymentId())::run, input);
    } catch (WorkflowExecutionAlreadyStarted alreadyRunning) {
      // Same id, same deployment: the earlier start stands.
    }
  }

  @Override
  public void requestDelete(DeploymentWorkflowInput input, DeleteRequest request) {
    var stub = newStub(input.deploymentId());
    var batch = client.newSignalWithStartRequest();
    batch.add(stub::run, input);
    batch.add(stub::requestDelete, request);
    client.signalWithStart(batch);
  }

  @Override
  public DeploymentState edit(String deploymentId, EditRequest request)
      throws EditRejectedException {
    var stub =
        client.newWorkflowStub(
            DeploymentWorkflow.class, DeploymentWorkflow.workflowId(deploymentId));
    try {
      return stub.applyEdit(request);
    } catch (WorkflowUpdateException e) {
      Throwable cause = e.getCause();
      String message =
          cause instanceof ApplicationFailure app ? app.getOriginalMessage() : e.getMessage();
      throw new EditRejectedException(message);
    }
  }

  @Override
  public void reportDemand(String deploymentId, DemandReport report) {
    client
        .newWorkflowStub(DeploymentWorkflow.class, DeploymentWorkflow.workflowId(deploymentId))
        .reportDemand(report);
  }

  @Override
  public void reportWorkerActivity(String workerId, ActivityReport report) {
    try {
      client
          .newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowIdOf(workerId))
          .reportActivity(report);
    } catch (WorkflowNotFoundException e) {
      // The worker ended since it was listed; activity on it no longer matters.
    }
  }
}
