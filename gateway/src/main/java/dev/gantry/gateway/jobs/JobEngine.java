package dev.gantry.gateway.jobs;

import dev.gantry.api.job.JobProgress;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobWorkflowInput;
import java.util.Optional;

/** Where async jobs run: their workflows. Every method blocks; call it off the event loop. */
public interface JobEngine {

  /**
   * Starts the job's workflow; a job whose workflow already ran is never started again.
   *
   * @return false when it was already running or had ended
   */
  boolean start(JobWorkflowInput input);

  /** Asks the job's workflow to cancel; nothing happens when it has ended. */
  void cancel(String jobId);

  /** Tells the job's workflow how far its request got. */
  void progress(String jobId, JobProgress progress);

  /** The state the job's workflow reports, or empty when it cannot be asked. */
  Optional<JobState> state(String jobId);

  /** Removes the job's workflow history where the server allows it (retention). */
  void forget(String jobId);
}
