package dev.gantry.api;

/** Names of the Temporal task queues the orchestrator polls. */
public final class TaskQueues {
  /** Deployment and worker workflows and their activities. */
  public static final String CONTROL = "gantry-control";

  /** Async jobs' requests, polled by gateways (they own the admission queues). */
  public static final String JOBS = "gantry-jobs";

  /**
   * Model downloads, apart from the control queue so that a slow Hub never holds the slots that
   * provisioning without a download ({@code sim}), workers and jobs need. Its worker's activity
   * slots bound the downloads running at once on one orchestrator.
   */
  public static final String DOWNLOADS = "gantry-downloads";

  private TaskQueues() {}
}
