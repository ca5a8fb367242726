package dev.gantry.api.job;

/**
 * Where a job is, as its workflow knows it.
 *
 * @param status the current state
 * @param httpStatus for a finished job, the status its poll answers with; 0 before
 * @param error for a failed job, the error table's message; null otherwise
 */
public record JobState(JobStatus status, int httpStatus, String error) {
  public static JobState of(JobStatus status) {
    return new JobState(status, 0, null);
  }

  /** The end of a job its owner cancelled: its poll answers 410. */
  public static JobState cancelled() {
    return new JobState(JobStatus.CANCELLED, 410, "The request was cancelled");
  }

  /** The end of a job whose time ran out with nothing else ending it: 504, as the error table. */
  public static JobState timedOut() {
    return new JobState(JobStatus.FAILED, 504, "Inference timed out, please retry");
  }
}
