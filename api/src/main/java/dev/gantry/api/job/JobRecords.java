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
   * @param end {@code failed} or {@code cancelled}, with the status its poll answers with and the
   *     error table's message
   */
  record JobOutcome(String jobId, JobState end) {}
}
