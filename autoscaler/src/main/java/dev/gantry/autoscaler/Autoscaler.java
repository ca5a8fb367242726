package dev.gantry.autoscaler;

import java.util.ArrayList;
import java.util.List;

/**
 * The autoscaler's memory, as an immutable value: the recent demand peaks, in workers, that the
 * scale-down delay still remembers. Each observation returns a new value; {@link #decide} turns one
 * into how many workers to run. Carried whole across a workflow's continue-as-new, and replayed
 * offline by {@code ./gantry replay --what-if}.
 *
 * <p>Peaks are kept as a falling staircase: each entry needs fewer workers than the one before it
 * and was seen later, so the first entry still inside the delay window is the window's maximum and
 * the list never holds more than {@code max_workers + 1} entries. Every entry expires, the newest
 * too: keeping a worker only spares it from reaping when idle, so a busy worker never depends on a
 * fresh report, and a gateway that stops reporting cannot keep workers up forever.
 *
 * @param peaks the staircase, oldest (largest) first
 * @param coldStartMillis how long the deployment's workers recently took from the decision to start
 *     them until they served (a moving average); 0 until one did
 */
public record Autoscaler(List<Peak> peaks, long coldStartMillis) {

  /**
   * Workers needed at a moment.
   *
   * @param atMillis when that demand was seen
   * @param workers workers it needed (at the target utilization)
   */
  public record Peak(long atMillis, int workers) {}

  /** An autoscaler that has seen no demand. */
  public static final Autoscaler IDLE = new Autoscaler(List.of(), 0);

  /** The weight of the newest cold start in {@link #coldStartMillis}. */
  private static final double COLD_START_WEIGHT = 0.3;

  public Autoscaler {
    peaks = peaks == null ? List.of() : List.copyOf(peaks);
    coldStartMillis = Math.max(0, coldStartMillis);
  }

  /** This autoscaler after a worker took {@code millis} from the decision to serving. */
  public Autoscaler coldStarted(long millis) {
    long m = Math.max(0, millis);
    long average =
        coldStartMillis == 0
            ? m
            : Math.round(coldStartMillis + COLD_START_WEIGHT * (m - coldStartMillis));
    return new Autoscaler(peaks, average);
  }

  /** The scale-down delay in force: the policy's, or the recent cold start under {@code AUTO}. */
  public long delayMillis(ScalingPolicy policy) {
    return policy.scaleDownDelayMillis() == ScalingPolicy.AUTO_DELAY
        ? coldStartMillis
        : policy.scaleDownDelayMillis();
  }

  /**
   * This autoscaler after seeing {@code demand} at {@code now}. The demand is counted in workers at
   * the target utilization; a request that has waited past the queue delay while no worker was
   * starting asks for one worker more than the fleet has.
   */
  public Autoscaler observe(ScalingPolicy policy, long now, Demand demand, Fleet fleet) {
    int need = policy.workersFor(demand.total());
    if (policy.queueDelayMillis() > 0
        && demand.queued() > 0
        && demand.oldestWaitMillis() >= policy.queueDelayMillis()
        && fleet.starting() == 0) {
      need = Math.max(need, fleet.live() + 1);
    }
    need = Math.min(need, policy.maxWorkers());
    List<Peak> next = new ArrayList<>(unexpired(policy, now));
    while (!next.isEmpty() && next.getLast().workers() <= need) {
      next.removeLast();
    }
    next.add(new Peak(now, need));
    return new Autoscaler(next, coldStartMillis);
  }

  /** What to run at {@code now} with {@code fleet} live. */
  public Decision decide(ScalingPolicy policy, long now, Fleet fleet) {
    List<Peak> window = unexpired(policy, now);
    int peak = window.isEmpty() ? 0 : window.getFirst().workers();
    int desired = policy.bounded(peak > 0 ? peak + policy.warmBuffer() : 0);
    long reviewAt = peak == 0 ? Long.MAX_VALUE : window.getFirst().atMillis() + window(policy);
    return new Decision(desired, Math.max(0, desired - fleet.live()), reviewAt);
  }

  /**
   * The workers that may go when idle: of the live workers, oldest first, all but the first {@code
   * desired}. Routing fills the oldest workers first, so these are the ones demand has left.
   */
  public static <W> List<W> mayGo(int desired, List<W> liveOldestFirst) {
    if (desired >= liveOldestFirst.size()) {
      return List.of();
    }
    return List.copyOf(liveOldestFirst.subList(Math.max(0, desired), liveOldestFirst.size()));
  }

  /**
   * How long a peak counts: the delay, and at least the millisecond it was seen in, so that with no
   * delay the demand of a report still starts its workers.
   */
  private long window(ScalingPolicy policy) {
    return Math.max(1, delayMillis(policy));
  }

  /** The peaks still inside the delay window at {@code now}, largest first. */
  private List<Peak> unexpired(ScalingPolicy policy, long now) {
    long delay = window(policy);
    int first = 0;
    while (first < peaks.size() && peaks.get(first).atMillis() + delay <= now) {
      first++;
    }
    return first == 0 ? peaks : peaks.subList(first, peaks.size());
  }
}
