package dev.gantry.api.job;

import io.temporal.activity.ActivityInterface;

/**
 * Runs a job's request, on a gateway (task queue {@code gantry-jobs}): it waits in the deployment's
 * admission queue like a synchronous request, calls the worker, and stores the answer in the
 * database before it returns. It heartbeats while it waits and while the engine works; a
 * cancellation aborts the engine call.
 */
@ActivityInterface
public interface JobExecution {

  JobState execute(ExecuteJob input);

  /**
   * @param jobId the job
   * @param deploymentId its deployment
   */
  record ExecuteJob(String jobId, String deploymentId) {}
}
