package dev.gantry.api;

/** Names of the Temporal task queues the orchestrator polls. */
public final class TaskQueues {
  /** Deployment and worker workflows and their activities. */
  public static final String CONTROL = "gantry-control";

  private TaskQueues() {}
}
