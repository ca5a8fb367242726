package dev.gantry.autoscaler;

/**
 * What the autoscaler wants now.
 *
 * @param desired live workers wanted, within [min_workers, max_workers]; the oldest {@code desired}
 *     live workers are kept, the others may go when idle
 * @param toStart workers to start now: {@code desired} less those live or starting
 * @param reviewAtMillis when {@code desired} may fall without new demand (the recent peak leaves
 *     the scale-down window); {@link Long#MAX_VALUE} when nothing is pending
 */
public record Decision(int desired, int toStart, long reviewAtMillis) {}
