package dev.gantry.infra.jobs;

import dev.gantry.api.job.JobStatus;
import java.time.Instant;

/**
 * One async request, as stored.
 *
 * @param id the request id users poll
 * @param inputBytes the size of the body the worker is called with (the submit's {@code input});
 *     the body itself is read with {@link JobRepository#input}, and removed when the job ends
 * @param workflowStarted whether its workflow was started; a job that was accepted but not started
 *     (a crash or a Temporal outage between the two) is started by the recovery sweep
 * @param httpStatus for a finished job, the status its poll answers with
 * @param result for a completed job, the worker's answer
 * @param resultType the answer's content type
 * @param errorMessage for a failed job, the error table's message
 * @param requestHash SHA-256 of route and input, to tell a retried submit from a different one
 * @param expiresAt when a finished job is removed
 */
public record JobRecord(
    String id,
    String tenantId,
    String deploymentId,
    String route,
    long inputBytes,
    JobStatus status,
    boolean workflowStarted,
    Integer httpStatus,
    String result,
    String resultType,
    String errorMessage,
    String idempotencyKey,
    String requestHash,
    Instant createdAt,
    Instant finishedAt,
    Instant expiresAt) {

  /** The same job with another input size. */
  public JobRecord withInputBytes(long bytes) {
    return new JobRecord(
        id,
        tenantId,
        deploymentId,
        route,
        bytes,
        status,
        workflowStarted,
        httpStatus,
        result,
        resultType,
        errorMessage,
        idempotencyKey,
        requestHash,
        createdAt,
        finishedAt,
        expiresAt);
  }

  /** A new job, accepted and waiting. */
  public static JobRecord queued(
      String id,
      String tenantId,
      String deploymentId,
      String route,
      long inputBytes,
      String idempotencyKey,
      String requestHash,
      Instant now) {
    return new JobRecord(
        id,
        tenantId,
        deploymentId,
        route,
        inputBytes,
        JobStatus.QUEUED,
        false,
        null,
        null,
        null,
        null,
        idempotencyKey,
        requestHash,
        now,
        null,
        null);
  }
}
