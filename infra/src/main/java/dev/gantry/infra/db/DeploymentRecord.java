package dev.gantry.infra.db;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import java.time.Instant;

/** One row of {@code deployments}. */
public record DeploymentRecord(
    String id,
    String tenantId,
    DeploymentSpec spec,
    String secretId,
    DeploymentStatus status,
    String statusReason,
    Instant createdAt,
    Instant updatedAt) {}
