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

  private DeploymentWorkflow newStub(DeploymentWorkflowInput input) {
    return client.newWorkflowStub(
        DeploymentWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(TaskQueues.CONTROL)
            .setWorkflowId(DeploymentWorkflow.workflowId(input.deploymentId()))
            // A retried start joins the running workflow instead of making a second one.
            .setWorkflowIdConflictPolicy(
                WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
            .setStaticSummary(summary(input))
            .setStaticDetails(details(input))
            .build());
  }

  /**
   * What the Temporal UI shows in the workflow list: the deployment's name, model, engine and GPUs.
   * Names and models are the tenant's own words, never secrets (env values stay encrypted in the
   * database; the input carries only a reference to them).
   */
  static String summary(DeploymentWorkflowInput input) {
    var spec = input.spec();
    String gpu =
        spec.gpu() == null || spec.gpu().count() == 0
            ? "no GPU"
            : spec.gpu().count() + " × " + spec.gpu().type();
    return clip(
        "Deployment %s: %s on %s, %s"
            .formatted(spec.name(), spec.model(), spec.framework().wireName(), gpu),
        200);
  }

  /** The workflow's static details (Markdown in the UI): who owns it and how it scales. */
  static String details(DeploymentWorkflowInput input) {
    var spec = input.spec();
    return clip(
        """
        **Deployment** `%s` of tenant `%s`
        - model: `%s`, engine: `%s`
        - workers: %d to %d, concurrency %d, idle timeout %d s
        """
            .formatted(
                input.deploymentId(),
                input.tenantId(),
                spec.model(),
                spec.framework().wireName(),
                spec.minWorkers(),
                spec.maxWorkers(),
                spec.concurrency(),
                spec.idleTimeoutSeconds()),
        2000);
  }

  private static String clip(String text, int max) {
    return text.length() <= max ? text : text.substring(0, max - 1) + "…";
  }

  @Override
  public void start(DeploymentWorkflowInput input) {
    try {
      WorkflowClient.start(newStub(input)::run, input);
    } catch (WorkflowExecutionAlreadyStarted alreadyRunning) {
      // Same id, same deployment: the earlier start stands.
    }
  }

  @Override
  public void requestDelete(DeploymentWorkflowInput input, DeleteRequest request) {
    var stub = newStub(input);
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
