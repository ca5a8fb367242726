package dev.gantry.infra.routing;

/**
 * The gateway in this process, as the control plane's activities see it. When a worker stops, its
 * activity waits for every gateway to stop routing to it (they re-read the routing table every
 * {@code route-refresh}); when the only gateway there is runs in this very process, the activity
 * can ask it instead of waiting, and the worker stops (and stops costing) a second sooner.
 */
public interface LocalRouting {

  /**
   * Re-reads the routing table now and tells whether this gateway is the only one, routes no new
   * request to {@code workerId} (which the caller has recorded as draining) and has none on its way
   * to it. False whenever in doubt: another gateway is alive, the table could not be read, or a
   * request is still in flight.
   */
  boolean noLongerRoutes(String deploymentId, String workerId);
}
