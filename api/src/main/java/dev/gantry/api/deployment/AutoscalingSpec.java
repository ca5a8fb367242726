package dev.gantry.api.deployment;

import dev.gantry.autoscaler.ScalingPolicy;

/**
 * The autoscaling settings a user may give; each null field takes the platform's default (see
 * {@link ScalingPolicy}). Specs recorded before these settings existed have none, and scale with
 * the defaults.
 *
 * @param targetUtilization share of a worker's concurrency that demand is sized for and routing
 *     fills before it spreads, in (0, 1]
 * @param scaleDownDelaySeconds how long the workers a demand peak needed are kept after it; null
 *     keeps them as long as the deployment's recent cold start
 * @param warmBuffer workers kept above demand while the deployment is in use
 * @param queueDelayMs start one more worker when a request has waited this long and none is
 *     starting; 0 is off
 */
public record AutoscalingSpec(
    Double targetUtilization,
    Integer scaleDownDelaySeconds,
    Integer warmBuffer,
    Integer queueDelayMs) {

  /** Every setting at its default. */
  public static final AutoscalingSpec DEFAULTS = new AutoscalingSpec(null, null, null, null);

  /** The policy for a deployment with these settings and bounds. */
  public ScalingPolicy policy(int minWorkers, int maxWorkers, int concurrency) {
    return new ScalingPolicy(
        minWorkers,
        maxWorkers,
        concurrency,
        targetUtilization != null ? targetUtilization : ScalingPolicy.DEFAULT_TARGET_UTILIZATION,
        scaleDownDelaySeconds != null
            ? scaleDownDelaySeconds * 1000L
            : ScalingPolicy.DEFAULT_SCALE_DOWN_DELAY_MILLIS,
        warmBuffer != null ? warmBuffer : ScalingPolicy.DEFAULT_WARM_BUFFER,
        queueDelayMs != null ? queueDelayMs : ScalingPolicy.DEFAULT_QUEUE_DELAY_MILLIS);
  }
}
