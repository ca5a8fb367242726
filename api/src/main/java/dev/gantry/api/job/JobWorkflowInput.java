package dev.gantry.api.job;

/**
 * What a job workflow is started with: ids only. The request body and the result live in the
 * database, never in workflow history (they may be large, and they are the user's data).
 *
 * @param jobId the request id the user polls
 * @param deploymentId the deployment that serves it
 * @param tenantId the owner
 * @param timeoutSeconds longest time the job may take from now, waiting for a worker included
 */
public record JobWorkflowInput(
    String jobId, String deploymentId, String tenantId, long timeoutSeconds) {}
