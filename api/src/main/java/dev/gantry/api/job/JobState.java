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
}
