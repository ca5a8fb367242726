package dev.gantry.api.deployment;

/** A deployment workflow's view of itself, returned by its query and its edit update. */
public record DeploymentState(DeploymentStatus status, String statusReason, DeploymentSpec spec) {}
