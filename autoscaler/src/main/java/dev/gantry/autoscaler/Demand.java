package dev.gantry.autoscaler;

/**
 * What the data plane saw of a deployment at one moment.
 *
 * @param inFlight requests being served by workers
 * @param queued requests waiting for a free worker slot
 * @param oldestWaitMillis how long the oldest waiting request has waited (0 when none waits)
 */
public record Demand(int inFlight, int queued, long oldestWaitMillis) {

  public Demand {
    inFlight = Math.max(0, inFlight);
    queued = Math.max(0, queued);
    oldestWaitMillis = queued == 0 ? 0 : Math.max(0, oldestWaitMillis);
  }

  /** Requests in flight and waiting. */
  public int total() {
    return inFlight + queued;
  }
}
