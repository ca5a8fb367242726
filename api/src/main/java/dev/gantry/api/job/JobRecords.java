package dev.gantry.api.job;

import io.temporal.activity.ActivityInterface;

/**
 * Records a job's end when its execution could not (it was cancelled, or no gateway could run it).
 * A job that already has an outcome keeps it.
 */
@ActivityInterface
public interface JobRecords {

  void recordOutcome(JobOutcome outcome);

  /**
   * @param jobId the job
   * @param status {@code failed} or {@code cancelled}
   * @param httpStatus the status its poll answers with
   * @param error the error table's message
   */
  record JobOutcome(String jobId, JobStatus status, int httpStatus, String error) {}
}
