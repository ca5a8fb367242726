package dev.gantry.activities.deployment;

import dev.gantry.api.deployment.DeploymentActivities;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.infra.db.DeploymentRepository;
import io.temporal.failure.ApplicationFailure;
import org.springframework.stereotype.Component;

/** Writes deployment state for the workflow; the only writer of deployment status. */
@Component("deploymentActivities")
public class DeploymentActivitiesImpl implements DeploymentActivities {
  private final DeploymentRepository repository;

  public DeploymentActivitiesImpl(DeploymentRepository repository) {
    this.repository = repository;
  }

  @Override
  public void recordStatus(RecordStatusInput input) {
    if (!repository.updateStatus(
        input.deploymentId(), input.status(), input.reason(), input.capacityBlocked())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "deployment " + input.deploymentId() + " does not exist", "DeploymentMissing");
    }
    if (input.status() == DeploymentStatus.DELETED) {
      repository.forgetSecret(input.deploymentId());
    }
  }

  @Override
  public void recordSpec(RecordSpecInput input) {
    if (!repository.updateSpec(input.deploymentId(), input.spec())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "deployment " + input.deploymentId() + " does not exist", "DeploymentMissing");
    }
  }
}
