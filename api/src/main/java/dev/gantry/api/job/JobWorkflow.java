package dev.gantry.api.job;

import io.temporal.common.SearchAttributeKey;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * One async inference request ({@code job/{request_id}}): waits for a worker slot through the same
 * admission as a synchronous request, runs it once, and records the outcome. Cancelling the
 * workflow cancels the request, aborting the engine call if it is running.
 */
@WorkflowInterface
public interface JobWorkflow {
  /** Lets operators find a deployment's jobs in the Temporal UI. */
  SearchAttributeKey<String> DEPLOYMENT_ID = SearchAttributeKey.forKeyword("GantryDeploymentId");

  static String workflowId(String jobId) {
    return "job/" + jobId;
  }

  @WorkflowMethod
  JobState run(JobWorkflowInput input);

  @SignalMethod
  void progress(JobProgress progress);

  @QueryMethod
  JobState state();
}
