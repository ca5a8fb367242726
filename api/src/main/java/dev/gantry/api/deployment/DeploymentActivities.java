package dev.gantry.api.deployment;

import io.temporal.activity.ActivityInterface;

/** Writes a deployment's state; the only path by which deployment status changes. */
@ActivityInterface
public interface DeploymentActivities {

  void recordStatus(RecordStatusInput input);

  void recordSpec(RecordSpecInput input);

  /** A status transition, with a reason a user can act on when the status is {@code failed}. */
  /**
   * @param capacityBlocked a scale-up was just refused for lack of GPUs; the gateway answers
   *     requests waiting on it 503 instead of letting them wait out
   */
  record RecordStatusInput(
      String deploymentId, DeploymentStatus status, String reason, boolean capacityBlocked) {
    public RecordStatusInput(String deploymentId, DeploymentStatus status, String reason) {
      this(deploymentId, status, reason, false);
    }
  }

  /** Persists an edited spec (name, idle timeout, wait time). */
  record RecordSpecInput(String deploymentId, DeploymentSpec spec) {}
}
