package dev.gantry.api.deployment;

/**
 * Starts a deployment's entity workflow. {@code secretRef} may be null when the deployment has no
 * env; it is a reference, never the values. {@code recoveredStatus} is null for a new deployment;
 * when a workflow is restarted from the database (its Temporal history was lost, as with the
 * embedded server after a restart) it carries the last recorded status and reason, so the workflow
 * resumes instead of starting over.
 */
public record DeploymentWorkflowInput(
    String deploymentId,
    String tenantId,
    DeploymentSpec spec,
    String secretRef,
    DeploymentStatus recoveredStatus,
    String recoveredReason) {

  public static DeploymentWorkflowInput fresh(
      String deploymentId, String tenantId, DeploymentSpec spec, String secretRef) {
    return new DeploymentWorkflowInput(deploymentId, tenantId, spec, secretRef, null, null);
  }
}
