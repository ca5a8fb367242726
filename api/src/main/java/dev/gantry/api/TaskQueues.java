package dev.gantry.api;

/** Names of the Temporal task queues the orchestrator polls. */
public final class TaskQueues {
  /** Deployment and worker workflows and their activities. */
  public static final String CONTROL = "gantry-control";

  /** Async jobs' requests, polled by gateways (they own the admission queues). */
  public static final String JOBS = "gantry-jobs";

  private TaskQueues() {}
}
