package dev.gantry.infra.db;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import java.time.Instant;

/**
 * One row of {@code deployments}.
 *
 * @param download the model download's last reported progress; null before the first report
 */
public record DeploymentRecord(
    String id,
    String tenantId,
    DeploymentSpec spec,
    String secretId,
    DeploymentStatus status,
    String statusReason,
    Instant createdAt,
    Instant updatedAt,
    DownloadProgress download) {

  public DeploymentRecord(
      String id,
      String tenantId,
      DeploymentSpec spec,
      String secretId,
      DeploymentStatus status,
      String statusReason,
      Instant createdAt,
      Instant updatedAt) {
    this(id, tenantId, spec, secretId, status, statusReason, createdAt, updatedAt, null);
  }

  /** Bytes of the model in storage so far, and the model's total size. */
  public record DownloadProgress(long bytesDone, long bytesTotal) {}
}
