package dev.gantry.api.deployment;

/**
 * A snapshot of a deployment's demand, sent coalesced (a few per second at most).
 *
 * @param inFlight requests being served by workers
 * @param queued requests waiting for a worker with free capacity
 */
public record DemandReport(int inFlight, int queued) {

  public int total() {
    return Math.max(0, inFlight) + Math.max(0, queued);
  }
}
