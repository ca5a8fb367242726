package dev.gantry.bench;

import dev.gantry.autoscaler.Autoscaler;
import dev.gantry.autoscaler.Decision;
import dev.gantry.autoscaler.Demand;
import dev.gantry.autoscaler.Fleet;
import dev.gantry.autoscaler.ScalingPolicy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Gantry's own autoscaling, run offline over a trace: the same {@link Autoscaler} the deployment
 * workflow runs, fed the demand the gateway would report, with the gateway's routing (fill the
 * oldest worker up to the target utilization, then the one with the most free slots), workers that
 * take their {@link ColdStartModel cold start} from the decision to serving (longer when others
 * boot at the same time, if the model says so), and idle reaping of the workers the autoscaler no
 * longer keeps (a worker that stops being kept counts as idle from its last use, but is reaped no
 * sooner than a third of the idle timeout after, as in the worker workflow). Requests that wait
 * longer than the wait time are counted as timed out.
 *
 * <p>Worker time counts from the scale-up decision to the reap, as the live replay counts it from a
 * worker's creation to its stop. All times are milliseconds on the replay's timeline.
 */
final class AutoscalerSimulation {

  /**
   * The deployment and platform being simulated.
   *
   * @param policy the autoscaling policy (bounds, concurrency and the four knobs)
   * @param idleTimeoutMillis idle time after which a worker that is not kept is reaped
   * @param waitTimeMillis how long a request may wait for a slot
   * @param coldStart from the decision to start a worker until it serves
   * @param queuedReportMillis how often the gateway repeats its report while requests wait
   */
  record Settings(
      ScalingPolicy policy,
      long idleTimeoutMillis,
      long waitTimeMillis,
      ColdStartModel coldStart,
      long queuedReportMillis) {

    /** Settings with one fixed cold start of {@code coldStartMillis} for every worker. */
    Settings(
        ScalingPolicy policy,
        long idleTimeoutMillis,
        long waitTimeMillis,
        long coldStartMillis,
        long queuedReportMillis) {
      this(
          policy,
          idleTimeoutMillis,
          waitTimeMillis,
          ColdStartModel.fixed(coldStartMillis),
          queuedReportMillis);
    }
  }

  /**
   * What the run cost and how the requests fared.
   *
   * @param workersStarted workers started on demand (min workers not counted)
   * @param workerMillis worker time of all workers
   * @param ttftMillis each served request's time to first token (queueing + engine first token)
   * @param timedOut requests that waited out the wait time
   * @param readyAfterMillis each worker's time from the decision to serving, in start order
   * @param endMillis when the last event happened (the last worker's reap, or the last request's
   *     end when workers stay): the end of the simulated time, up to which workers are counted
   */
  record Result(
      int workersStarted,
      long workerMillis,
      long[] ttftMillis,
      int timedOut,
      long[] readyAfterMillis,
      long endMillis) {
    double workerSeconds() {
      return workerMillis / 1000.0;
    }

    /** The share of all requests served with a TTFT at most {@code sloMillis}. */
    double attainment(long sloMillis) {
      long ok = 0;
      for (long t : ttftMillis) {
        if (t <= sloMillis) {
          ok++;
        }
      }
      int all = ttftMillis.length + timedOut;
      return all == 0 ? 1 : (double) ok / all;
    }

    long ttftPercentile(double p) {
      if (ttftMillis.length == 0) {
        return 0;
      }
      long[] sorted = ttftMillis.clone();
      java.util.Arrays.sort(sorted);
      int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
  }

  /**
   * One request.
   *
   * @param arrivalMillis when it arrives
   * @param firstTokenMillis how long the engine takes to its first token once it has a slot
   * @param durationMillis how long it holds its slot in all
   */
  record Request(long arrivalMillis, long firstTokenMillis, long durationMillis) {}

  private static final class Worker {
    final int ordinal;
    final long decidedAt;
    final long readyAt;
    final boolean permanent;
    int inFlight;
    long lastActive;
    boolean kept;
    long endedAt = -1;

    Worker(int ordinal, long decidedAt, long readyAt, boolean permanent) {
      this.ordinal = ordinal;
      this.decidedAt = decidedAt;
      this.readyAt = readyAt;
      this.permanent = permanent;
      this.lastActive = readyAt;
    }

    boolean ready(long now) {
      return now >= readyAt;
    }
  }

  private enum Kind {
    COMPLETE,
    READY,
    ARRIVE,
    TICK
  }

  private record Event(long at, Kind kind, long sequence, Worker worker, Request request) {}

  private final Settings settings;
  private final ScalingPolicy policy;
  private final List<Worker> workers = new ArrayList<>(); // every worker ever, oldest first
  private final List<Worker> live = new ArrayList<>();
  private final Deque<Request> queue = new ArrayDeque<>();
  private final Deque<Long> queuedAt = new ArrayDeque<>();
  private final PriorityQueue<Event> events =
      new PriorityQueue<>(
          Comparator.comparingLong(Event::at)
              .thenComparing(Event::kind)
              .thenComparingLong(Event::sequence));
  private final List<Long> ttfts = new ArrayList<>();
  private Autoscaler scaler = Autoscaler.IDLE;
  private long sequence;
  private int inFlight;
  private int lastNeed = -1;
  private long lastQueuedReport = Long.MIN_VALUE;
  private long nextTick = Long.MAX_VALUE;
  private int timedOut;

  private AutoscalerSimulation(Settings settings) {
    this.settings = settings;
    this.policy = settings.policy();
  }

  static Result run(List<Request> requests, Settings settings) {
    return new AutoscalerSimulation(settings).simulate(requests);
  }

  private Result simulate(List<Request> requests) {
    for (Request r : requests) {
      schedule(r.arrivalMillis(), Kind.ARRIVE, null, r);
    }
    for (int i = 0; i < policy.minWorkers(); i++) {
      start(0, true);
    }
    long now = 0;
    while (!events.isEmpty()) {
      Event e = events.poll();
      now = e.at();
      reap(now);
      switch (e.kind()) {
        case ARRIVE -> {
          expireWaiting(now);
          if (queue.isEmpty() && route(now, e.request())) {
            break;
          }
          queue.add(e.request());
          queuedAt.add(now);
        }
        case COMPLETE -> {
          Worker w = e.worker();
          w.inFlight--;
          inFlight--;
          w.lastActive = now;
          dispatch(now);
        }
        case READY -> {
          scaler = scaler.coldStarted(e.worker().readyAt - e.worker().decidedAt);
          dispatch(now);
        }
        case TICK -> {
          if (now == nextTick) {
            nextTick = Long.MAX_VALUE;
          }
          expireWaiting(now);
        }
      }
      report(now);
      scale(now);
      armIdleChecks(now);
    }
    long end = now;
    long workerMillis = 0;
    int started = 0;
    for (Worker w : workers) {
      long stop = w.endedAt >= 0 ? w.endedAt : end;
      workerMillis += stop - w.decidedAt;
      if (!w.permanent) {
        started++;
      }
    }
    return new Result(
        started,
        workerMillis,
        ttfts.stream().mapToLong(Long::longValue).toArray(),
        timedOut,
        workers.stream().mapToLong(w -> w.readyAt - w.decidedAt).toArray(),
        end);
  }

  private void schedule(long at, Kind kind, Worker worker, Request request) {
    events.add(new Event(at, kind, sequence++, worker, request));
  }

  private void tickAt(long at) {
    if (at < nextTick) {
      nextTick = at;
      schedule(at, Kind.TICK, null, null);
    }
  }

  /**
   * The gateway's report: when the workers demand needs change, and every so often while queued.
   */
  private void report(long now) {
    var demand =
        new Demand(inFlight, queue.size(), queue.isEmpty() ? 0 : now - queuedAt.getFirst());
    int need = policy.workersFor(demand.total());
    boolean queuedDue = !queue.isEmpty() && now - lastQueuedReport >= settings.queuedReportMillis();
    if (need != lastNeed || queuedDue) {
      lastNeed = need;
      if (!queue.isEmpty()) {
        lastQueuedReport = now;
        tickAt(now + settings.queuedReportMillis());
      }
      scaler = scaler.observe(policy, now, demand, fleet(now));
    }
  }

  private Fleet fleet(long now) {
    int starting = 0;
    for (Worker w : live) {
      if (!w.ready(now)) {
        starting++;
      }
    }
    return new Fleet(starting, live.size() - starting);
  }

  private void scale(long now) {
    Decision d = scaler.decide(policy, now, fleet(now));
    for (int i = 0; i < d.toStart(); i++) {
      start(now, false);
    }
    if (d.reviewAtMillis() != Long.MAX_VALUE) {
      tickAt(d.reviewAtMillis());
    }
    int keep = Math.max(d.desired(), policy.minWorkers());
    for (int i = 0; i < live.size(); i++) {
      Worker w = live.get(i);
      boolean kept = i < keep;
      if (w.kept && !kept) {
        // No longer kept: idle from its last use, but reaped no sooner than a third of the idle
        // timeout from now (the worker workflow's released-idle-from-last-use).
        w.lastActive =
            Math.max(
                w.lastActive,
                now - settings.idleTimeoutMillis() + settings.idleTimeoutMillis() / 3);
      }
      w.kept = kept;
    }
  }

  private void start(long now, boolean permanent) {
    // The boots in progress include those decided a moment ago in the same step.
    long coldStart = settings.coldStart().millis(fleet(now).starting());
    Worker w = new Worker(workers.size(), now, now + coldStart, permanent);
    w.kept = true;
    workers.add(w);
    live.add(w);
    schedule(w.readyAt, Kind.READY, w, null);
  }

  private void armIdleChecks(long now) {
    for (Worker w : live) {
      if (!w.kept && w.inFlight == 0 && w.ready(now)) {
        tickAt(Math.max(now, w.lastActive + settings.idleTimeoutMillis()));
      }
    }
  }

  private void reap(long now) {
    live.removeIf(
        w -> {
          if (!w.kept
              && w.inFlight == 0
              && w.ready(now)
              && w.lastActive + settings.idleTimeoutMillis() <= now) {
            w.endedAt = w.lastActive + settings.idleTimeoutMillis();
            return true;
          }
          return false;
        });
  }

  private void expireWaiting(long now) {
    while (!queuedAt.isEmpty() && now - queuedAt.getFirst() > settings.waitTimeMillis()) {
      queue.poll();
      queuedAt.poll();
      timedOut++;
    }
    if (!queuedAt.isEmpty()) {
      tickAt(queuedAt.getFirst() + settings.waitTimeMillis() + 1);
    }
  }

  private void dispatch(long now) {
    expireWaiting(now);
    while (!queue.isEmpty()) {
      Request r = queue.peek();
      long since = queuedAt.peek();
      if (!route(now, r, now - r.arrivalMillis())) {
        return;
      }
      queue.poll();
      queuedAt.poll();
      assert since <= now;
    }
  }

  private boolean route(long now, Request r) {
    return route(now, r, 0);
  }

  /** Fills the oldest worker up to the target, then spreads to the most free slots. */
  private boolean route(long now, Request r, long waited) {
    int target = policy.targetSlots();
    Worker packed = null;
    Worker spread = null;
    for (Worker w : live) {
      if (!w.ready(now) || w.inFlight >= policy.concurrency()) {
        continue;
      }
      if (w.inFlight < target && (packed == null || w.inFlight > packed.inFlight)) {
        packed = w;
      }
      if (spread == null || w.inFlight < spread.inFlight) {
        spread = w;
      }
    }
    Worker chosen = packed != null ? packed : spread;
    if (chosen == null) {
      return false;
    }
    chosen.inFlight++;
    inFlight++;
    chosen.lastActive = now;
    ttfts.add(waited + r.firstTokenMillis());
    schedule(now + r.durationMillis(), Kind.COMPLETE, chosen, r);
    return true;
  }
}
