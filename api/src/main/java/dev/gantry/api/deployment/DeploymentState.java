package dev.gantry.api.deployment;

import dev.gantry.api.deployment.ServingState.WorkerSlot;
import java.util.List;

/**
 * A deployment workflow's view of itself, returned by its query and its edit update.
 *
 * @param workers current workers (provisioning, healthy, draining)
 * @param wanted how many live workers the autoscaler wants
 */
public record DeploymentState(
    DeploymentStatus status,
    String statusReason,
    DeploymentSpec spec,
    List<WorkerSlot> workers,
    int wanted) {

  public DeploymentState {
    workers = workers == null ? List.of() : List.copyOf(workers);
  }
}
