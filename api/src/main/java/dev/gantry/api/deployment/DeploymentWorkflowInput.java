package dev.gantry.api.deployment;

/**
 * Starts a deployment's entity workflow. {@code secretRef} may be null when the deployment has no
 * env; it is a reference, never the values.
 *
 * @param recoveredStatus null for a new deployment; when a workflow is restarted from the database
 *     (its Temporal history was lost, as with the embedded server after a restart) the last
 *     recorded status, so the workflow resumes instead of starting over
 * @param recoveredReason the status reason recorded with {@code recoveredStatus}
 * @param nextWorkerOrdinal the lowest worker ordinal not used yet (from the database on recovery)
 * @param serving state carried over continue-as-new; null otherwise
 * @param historyLimit history length after which the workflow continues as new; 0 for the default
 */
public record DeploymentWorkflowInput(
    String deploymentId,
    String tenantId,
    DeploymentSpec spec,
    String secretRef,
    DeploymentStatus recoveredStatus,
    String recoveredReason,
    int nextWorkerOrdinal,
    ServingState serving,
    int historyLimit) {

  public static DeploymentWorkflowInput fresh(
      String deploymentId, String tenantId, DeploymentSpec spec, String secretRef) {
    return new DeploymentWorkflowInput(
        deploymentId, tenantId, spec, secretRef, null, null, 1, null, 0);
  }

  public DeploymentWorkflowInput continued(DeploymentSpec currentSpec, ServingState state) {
    return new DeploymentWorkflowInput(
        deploymentId,
        tenantId,
        currentSpec,
        secretRef,
        null,
        null,
        state.nextOrdinal(),
        state,
        historyLimit);
  }
}
