package dev.gantry.autoscaler;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
 *     <p>Several gateways can serve one deployment (a Kubernetes install runs two), each with its
 *     own requests and its own share of every worker's slots. Each reports under its name ({@link
 *     #observe(ScalingPolicy, long, String, Demand, Fleet)}) its demand scaled to the whole
 *     deployment: a gateway with 1/n of each worker's slots counts its requests n times, since that
 *     is how many workers it alone needs for them. The demand observed is the largest of the
 *     gateways' latest reports: with traffic spread evenly each one stands for the whole, and with
 *     a burst on one gateway, that gateway's report asks for the workers its share needs. A gateway
 *     repeats its report while its demand is not zero; one silent for {@link #SOURCE_TTL_MILLIS}
 *     (stopped, or restarted under another name) no longer counts.
 * @param coldStartMillis how long the deployment's workers recently took from the decision to start
 *     them until they served (a moving average); 0 until one did
 * @param sources each reporting gateway's latest report, by the gateway's name; empty (or null, in
 *     states carried from before gateways named themselves) while reports name none
 */
public record Autoscaler(List<Peak> peaks, long coldStartMillis, Map<String, Reported> sources) {

  /**
   * Workers needed at a moment.
   *
   * @param atMillis when that demand was seen
   * @param workers workers it needed (at the target utilization)
   */
  public record Peak(long atMillis, int workers) {}

  /**
   * A gateway's latest report.
   *
   * @param atMillis when it was observed
   * @param demand what that gateway saw
   */
  public record Reported(long atMillis, Demand demand) {}

  /**
   * How long a gateway's report counts in the sum: three times the longest a gateway with demand
   * stays silent (it repeats its report every {@link #SOURCE_REPEAT_MILLIS} while its demand is not
   * zero).
   */
  public static final long SOURCE_TTL_MILLIS = 15_000;

  /**
   * How old a gateway's report may be for its oldest wait to count in another's decision: a gateway
   * repeats its report every second while requests wait there, so an older one's queue may be gone.
   */
  public static final long QUEUED_REPORT_FRESH_MILLIS = 2_000;

  /** How often a gateway with demand repeats its report, changed or not. */
  public static final long SOURCE_REPEAT_MILLIS = SOURCE_TTL_MILLIS / 3;

  /**
   * The most gateways remembered; beyond it the longest silent one is forgotten. Only the
   * platform's gateways report, so this bounds a bug, not a tenant.
   */
  public static final int MAX_SOURCES = 64;

  /** An autoscaler that has seen no demand. */
  public static final Autoscaler IDLE = new Autoscaler(List.of(), 0);

  /** The weight of the newest cold start in {@link #coldStartMillis}. */
  private static final double COLD_START_WEIGHT = 0.3;

  public Autoscaler {
    peaks = peaks == null ? List.of() : List.copyOf(peaks);
    coldStartMillis = Math.max(0, coldStartMillis);
    // Sorted by name: the same state serializes the same way in every JVM.
    sources =
        sources == null || sources.isEmpty()
            ? Map.of()
            : Collections.unmodifiableMap(new TreeMap<>(sources));
  }

  /** An autoscaler whose reports name no gateway. */
  public Autoscaler(List<Peak> peaks, long coldStartMillis) {
    this(peaks, coldStartMillis, Map.of());
  }

  /** This autoscaler after a worker took {@code millis} from the decision to serving. */
  public Autoscaler coldStarted(long millis) {
    long m = Math.max(0, millis);
    long average =
        coldStartMillis == 0
            ? m
            : Math.round(coldStartMillis + COLD_START_WEIGHT * (m - coldStartMillis));
    return new Autoscaler(peaks, average, sources);
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
    return new Autoscaler(next, coldStartMillis, sources);
  }

  /**
   * This autoscaler after gateway {@code source} reported {@code demand} (scaled to the whole
   * deployment) at {@code now}: the demand observed is the largest of the latest reports of the
   * gateways heard from within {@link #SOURCE_TTL_MILLIS}, this one included, with the longest wait
   * any of them saw. A report that names no gateway ({@code null}, from gateways before they named
   * themselves) is observed alone, as it was then.
   */
  public Autoscaler observe(
      ScalingPolicy policy, long now, String source, Demand demand, Fleet fleet) {
    if (source == null) {
      return observe(policy, now, demand, fleet);
    }
    // Sorted by name, so that ties and evictions are decided the same way in every replay.
    Map<String, Reported> next = new TreeMap<>();
    sources.forEach(
        (name, reported) -> {
          if (reported.atMillis() + SOURCE_TTL_MILLIS > now && !name.equals(source)) {
            next.put(name, reported);
          }
        });
    while (next.size() >= MAX_SOURCES) {
      next.entrySet().stream()
          .min(
              Comparator.comparingLong((Map.Entry<String, Reported> e) -> e.getValue().atMillis())
                  .thenComparing(Map.Entry::getKey))
          .ifPresent(e -> next.remove(e.getKey()));
    }
    next.put(source, new Reported(now, demand));
    Demand largest = demand;
    long longestWait = 0;
    for (Reported reported : next.values()) {
      Demand d = reported.demand();
      if (d.total() > largest.total()) {
        largest = d;
      }
      if (now - reported.atMillis() <= QUEUED_REPORT_FRESH_MILLIS) {
        longestWait = Math.max(longestWait, d.oldestWaitMillis());
      }
    }
    Demand observed =
        new Demand(
            largest.inFlight(),
            largest.queued(),
            largest.queued() > 0 ? longestWait : largest.oldestWaitMillis());
    return new Autoscaler(peaks, coldStartMillis, next).observe(policy, now, observed, fleet);
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
