package dev.gantry.api.deployment;

import dev.gantry.autoscaler.Demand;

/**
 * A snapshot of a deployment's demand, sent coalesced (a few per second at most).
 *
 * @param inFlight requests being served by workers
 * @param queued requests waiting for a worker with free capacity
 * @param oldestWaitMillis how long the oldest waiting request has waited; 0 in reports from
 *     gateways before it was sent
 * @param source the reporting gateway's name, unique per gateway process: the deployment keeps the
 *     latest report of each and sizes itself for the largest ({@code Autoscaler}); null in reports
 *     from gateways before they named themselves, each of which stands for the whole demand
 */
public record DemandReport(int inFlight, int queued, long oldestWaitMillis, String source) {

  public DemandReport(int inFlight, int queued, long oldestWaitMillis) {
    this(inFlight, queued, oldestWaitMillis, null);
  }

  public DemandReport(int inFlight, int queued) {
    this(inFlight, queued, 0);
  }

  public int total() {
    return Math.max(0, inFlight) + Math.max(0, queued);
  }

  /** The report as the autoscaler reads it. */
  public Demand demand() {
    return new Demand(inFlight, queued, oldestWaitMillis);
  }
}
