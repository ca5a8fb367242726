package dev.gantry.autoscaler;

/**
 * How a deployment scales, every knob resolved: its bounds, its per-worker concurrency and the four
 * autoscaling settings a user may set.
 *
 * @param minWorkers workers kept running at all times
 * @param maxWorkers the most workers at once
 * @param concurrency requests one worker serves at once
 * @param targetUtilization the share of a worker's slots that demand is sized for (0 &lt; u &le;
 *     1): at 0.75 and concurrency 16, twelve requests need one worker and the thirteenth a second;
 *     routing fills workers up to the same share before it spreads
 * @param scaleDownDelayMillis how long the workers a demand peak needed are kept after the peak, so
 *     a lull shorter than this does not reap workers the next burst needs; workers beyond the kept
 *     ones go by their idle timeout. {@link #AUTO_DELAY} keeps them as long as starting one takes
 *     (the deployment's recent cold start): keeping an idle worker longer costs more than starting
 *     it again, dropping it sooner makes the next burst wait for a cold start
 * @param warmBuffer workers kept above demand while the deployment is in use (demand seen within
 *     the scale-down delay); at rest the deployment still falls to {@code minWorkers}
 * @param queueDelayMillis when positive, one more worker is started whenever a request has waited
 *     this long while no worker was starting; 0 turns this off
 */
public record ScalingPolicy(
    int minWorkers,
    int maxWorkers,
    int concurrency,
    double targetUtilization,
    long scaleDownDelayMillis,
    int warmBuffer,
    long queueDelayMillis) {

  /** Used when a deployment does not set it. */
  public static final double DEFAULT_TARGET_UTILIZATION = 1.0;

  /** The scale-down delay that follows the deployment's measured cold start. */
  public static final long AUTO_DELAY = -1;

  /** Used when a deployment does not set it. */
  public static final long DEFAULT_SCALE_DOWN_DELAY_MILLIS = AUTO_DELAY;

  /** Used when a deployment does not set it. */
  public static final int DEFAULT_WARM_BUFFER = 0;

  /** Used when a deployment does not set it: off. */
  public static final long DEFAULT_QUEUE_DELAY_MILLIS = 0;

  public ScalingPolicy {
    if (minWorkers < 0 || maxWorkers < Math.max(1, minWorkers) || concurrency < 1) {
      throw new IllegalArgumentException(
          "needs 0 <= min_workers <= max_workers, max_workers >= 1 and concurrency >= 1");
    }
    if (!(targetUtilization > 0 && targetUtilization <= 1)) {
      throw new IllegalArgumentException(
          "target utilization must be in (0, 1], got " + targetUtilization);
    }
    if (scaleDownDelayMillis < AUTO_DELAY || warmBuffer < 0 || queueDelayMillis < 0) {
      throw new IllegalArgumentException(
          "scale-down delay, warm buffer and queue delay must be >= 0");
    }
  }

  /** A policy with the default autoscaling settings. */
  public static ScalingPolicy defaults(int minWorkers, int maxWorkers, int concurrency) {
    return new ScalingPolicy(
        minWorkers,
        maxWorkers,
        concurrency,
        DEFAULT_TARGET_UTILIZATION,
        DEFAULT_SCALE_DOWN_DELAY_MILLIS,
        DEFAULT_WARM_BUFFER,
        DEFAULT_QUEUE_DELAY_MILLIS);
  }

  /**
   * Requests one worker is given before routing spreads to the next, and that demand is sized by:
   * {@code concurrency × targetUtilization}, rounded down, at least one.
   */
  public int targetSlots() {
    // The small epsilon keeps 0.75 × 16 at 12 despite binary fractions.
    return Math.max(1, (int) Math.floor(concurrency * targetUtilization + 1e-9));
  }

  /** Workers needed for {@code requests} in flight and waiting, not bounded by max_workers. */
  public int workersFor(int requests) {
    if (requests <= 0) {
      return 0;
    }
    int slots = targetSlots();
    return (requests + slots - 1) / slots;
  }

  /** {@code workers} within [min_workers, max_workers]. */
  public int bounded(int workers) {
    return Math.max(minWorkers, Math.min(maxWorkers, workers));
  }
}
