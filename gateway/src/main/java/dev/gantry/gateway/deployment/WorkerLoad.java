package dev.gantry.gateway.deployment;

/** Requests this gateway has on a worker right now (the {@code in_flight} of the workers API). */
public interface WorkerLoad {
  int inFlight(String deploymentId, String workerId);

  /**
   * Requests this gateway has on the deployment's workers and waiting in its queue; zeros for a
   * deployment it does not route (not running, or not yet read).
   */
  DeploymentView.Queue queue(String deploymentId);
}
