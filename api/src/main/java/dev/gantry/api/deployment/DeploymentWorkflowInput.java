package dev.gantry.api.deployment;

/**
 * Starts a deployment's entity workflow. {@code secretRef} may be null when the deployment has no
 * env; it is a reference, never the values.
 */
public record DeploymentWorkflowInput(
    String deploymentId, String tenantId, DeploymentSpec spec, String secretRef) {}
