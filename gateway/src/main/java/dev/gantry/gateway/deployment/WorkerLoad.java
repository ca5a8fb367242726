package dev.gantry.gateway.deployment;

/** Requests this gateway has on a worker right now (the {@code in_flight} of the workers API). */
public interface WorkerLoad {
  int inFlight(String deploymentId, String workerId);
}
