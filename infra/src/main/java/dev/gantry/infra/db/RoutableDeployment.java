package dev.gantry.infra.db;

import dev.gantry.api.deployment.DeploymentSpec;
import java.time.Instant;
import java.util.List;

/**
 * A running deployment as the gateway sees it.
 *
 * @param capacityBlockedAt when its last scale-up was refused for lack of GPUs; null if it was not
 * @param workers its current (not stopped) workers, oldest first
 */
public record RoutableDeployment(
    String id,
    String tenantId,
    DeploymentSpec spec,
    Instant capacityBlockedAt,
    List<RoutableWorker> workers) {

  public RoutableDeployment {
    workers = List.copyOf(workers);
  }
}
