package dev.gantry.gateway.inference;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.db.RoutableDeployment;
import dev.gantry.infra.db.RoutableWorker;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.scheduler.Scheduler;

/**
 * One running deployment in the routing table: its healthy workers with their in-flight counts, and
 * its FIFO admission queue. A request joins the queue unless the deployment could not serve it
 * within its {@code wait_time_seconds} even at full capacity ({@code max_workers × concurrency}
 * slots, each freed after about as long as its recent requests held one); {@code max-queue} is only
 * a ceiling against runaway memory. Every mutation happens under this object's lock, and sinks are
 * completed only after the lock is released, so no downstream code runs while it is held.
 */
final class DeploymentRoute {
  final String deploymentId;
  private final LongSupplier clock;
  private final Scheduler timers;
  private final int maxQueue;

  /** This gateway's share of each worker's slots (all of them when it is the only gateway). */
  private final SlotPartition partition;

  private volatile String tenantId;
  private volatile DeploymentSpec spec;

  /** Requests a worker takes before routing spreads to the next (the target utilization). */
  private volatile int targetSlots;

  /** Healthy workers by id, oldest first. */
  private final Map<String, Upstream> workers = new LinkedHashMap<>();

  private int provisioning;
  private Instant capacityBlockedAt;
  private final ArrayDeque<Waiter> queue = new ArrayDeque<>();
  private boolean removed;

  /**
   * How long a request holds a worker slot, recently: an exponentially weighted mean of the hold
   * times of released slots (ms); NaN until one was released.
   */
  private double holdMillis = Double.NaN;

  /** The weight of the newest hold time in {@link #holdMillis}. */
  private static final double HOLD_WEIGHT = 0.2;

  /** Request body bytes its requests hold now, counted by the {@link BodyBudget}. */
  final AtomicLong bodyBytes = new AtomicLong();

  /** Set by the demand reporter: a report for this deployment is being sent. */
  final AtomicBoolean reporting = new AtomicBoolean();

  long lastDemandReportMillis;

  /** The workers the last demand report needed (at most {@code max_workers}); 0 before any. */
  volatile int lastReportedNeed;

  DeploymentRoute(
      RoutableDeployment deployment, LongSupplier clock, Scheduler timers, int maxQueue) {
    this(deployment, clock, timers, maxQueue, SlotPartition.WHOLE);
  }

  DeploymentRoute(
      RoutableDeployment deployment,
      LongSupplier clock,
      Scheduler timers,
      int maxQueue,
      SlotPartition partition) {
    this.deploymentId = deployment.id();
    this.clock = clock;
    this.timers = timers;
    this.maxQueue = maxQueue;
    this.partition = partition;
    update(deployment);
  }

  String tenantId() {
    return tenantId;
  }

  DeploymentSpec spec() {
    return spec;
  }

  /**
   * Takes a slot now, or waits in the queue (up to the deployment's wait time) for one. Errors with
   * the error table's outcome: 429 when the queue is full, and on a wait-out 503, 504 or 408.
   */
  Mono<Lease> admit(Runnable onQueued) {
    return admit(onQueued, -1, false);
  }

  /**
   * Admits again a request whose worker could not be reached (it never got there): a slot on
   * another worker now, or a wait at the head of the queue, up to {@code waitMillis}, for one.
   * Never refused for a full queue: it was admitted once already.
   */
  Mono<Lease> readmit(long waitMillis) {
    return admit(() -> {}, waitMillis, true);
  }

  private Mono<Lease> admit(Runnable onQueued, long waitMillis, boolean again) {
    return Mono.create(
        sink -> {
          Lease lease;
          Waiter waiter = null;
          InferenceException refused = null;
          boolean firstInQueue = false;
          synchronized (this) {
            lease = removed || (!again && !queue.isEmpty()) ? null : tryAcquire(null);
            if (lease == null) {
              if (removed) {
                refused = InferenceException.notFound();
              } else if (!again && (queue.size() >= maxQueue || wouldWaitOut(queue.size() + 1))) {
                refused = InferenceException.queueFull();
              } else {
                waiter = enqueue(sink, again);
                // The first to wait, or one that makes the demand need a worker more than the
                // autoscaler was last told: a scale-up is on the clock, tell it now.
                firstInQueue = queue.size() == 1 || needsMoreThanReported();
              }
            }
          }
          if (lease != null) {
            sink.success(lease);
            return;
          }
          if (refused != null) {
            sink.error(refused);
            return;
          }
          Waiter w = waiter;
          long wait = waitMillis >= 0 ? waitMillis : spec.waitTimeSeconds() * 1000L;
          w.timeout = timers.schedule(() -> waitedOut(w), wait, TimeUnit.MILLISECONDS);
          sink.onCancel(() -> cancel(w));
          if (firstInQueue) {
            onQueued.run();
          }
        });
  }

  private Waiter enqueue(MonoSink<Lease> sink, boolean first) {
    var waiter = new Waiter(sink, clock.getAsLong());
    if (first) {
      // It has waited its turn already; it was only unlucky in the worker it got.
      queue.addFirst(waiter);
    } else {
      queue.addLast(waiter);
    }
    return waiter;
  }

  /**
   * A slot on another worker than {@code failed}, without waiting: the one retry of a request that
   * never reached a worker.
   */
  synchronized Lease tryAcquireOther(Upstream failed) {
    return removed ? null : tryAcquire(failed);
  }

  /**
   * A slot on a healthy worker, if any has one: the busiest (then oldest) worker still below the
   * target utilization, so load packs onto few workers and the autoscaler's surplus ones go idle
   * and are reaped; when every worker is at its target, the one with the most free slots. With
   * other gateway replicas, this gateway's slots of a worker are its share of them, and its target
   * the same share of the target. Caller holds the lock.
   */
  private Lease tryAcquire(Upstream exclude) {
    int concurrency = spec.concurrency();
    int target = targetSlots;
    long now = clock.getAsLong();
    Upstream packed = null;
    Upstream spread = null;
    for (Upstream u : workers.values()) {
      int slots = partition.cap(u.workerId, concurrency);
      if (u == exclude || u.leaving || u.excludedUntilMillis > now || u.inFlight >= slots) {
        continue;
      }
      int targetShare =
          slots == concurrency ? target : (int) Math.ceil((double) target * slots / concurrency);
      if (u.inFlight < targetShare && (packed == null || u.inFlight > packed.inFlight)) {
        packed = u;
      }
      if (spread == null || u.inFlight < spread.inFlight) {
        spread = u;
      }
    }
    Upstream best = packed != null ? packed : spread;
    if (best == null) {
      return null;
    }
    best.inFlight++;
    best.firstRouted(now);
    return new Lease(this, best, now);
  }

  /**
   * Whether a request at {@code position} in the queue would wait out its wait time even with every
   * worker the deployment may have: with {@code C} slots at full scale, each freed after the recent
   * hold time {@code D}, it gets one after about {@code position × D / C}. Unknown (never refused)
   * until a slot has been released. Caller holds the lock.
   */
  private boolean wouldWaitOut(int position) {
    if (Double.isNaN(holdMillis)) {
      return false;
    }
    long slots = Math.max(1L, (long) spec.maxWorkers() * spec.concurrency() / partition.members());
    return position * holdMillis / slots > spec.waitTimeSeconds() * 1000.0;
  }

  void release(Lease lease) {
    long now = clock.getAsLong();
    lease.upstream.lastUsedMillis = now;
    List<Handoff> handoffs;
    synchronized (this) {
      long held = Math.max(0, now - lease.takenAtMillis);
      holdMillis = Double.isNaN(holdMillis) ? held : holdMillis + HOLD_WEIGHT * (held - holdMillis);
      Upstream u = lease.upstream;
      u.inFlight--;
      if (u.leaving && u.inFlight == 0) {
        workers.remove(u.workerId, u);
      }
      handoffs = dispatch();
    }
    complete(handoffs);
  }

  /** Keeps a worker that refused a connection out of routing for a while. */
  synchronized void markUnreachable(Upstream upstream, long cooldownMillis) {
    upstream.excludedUntilMillis = clock.getAsLong() + cooldownMillis;
  }

  /** Gives free slots to waiting requests in arrival order. Caller holds the lock. */
  private List<Handoff> dispatch() {
    List<Handoff> handoffs = null;
    while (!queue.isEmpty()) {
      Lease lease = tryAcquire(null);
      if (lease == null) {
        break;
      }
      Waiter w = queue.pollFirst();
      if (handoffs == null) {
        handoffs = new ArrayList<>();
      }
      handoffs.add(new Handoff(w, lease, null));
    }
    return handoffs == null ? List.of() : handoffs;
  }

  private static void complete(List<Handoff> handoffs) {
    for (Handoff h : handoffs) {
      h.waiter.timeout.dispose();
      if (h.lease != null) {
        h.waiter.offer(h.lease);
      } else {
        h.waiter.fail(h.error);
      }
    }
  }

  private void waitedOut(Waiter w) {
    InferenceException outcome;
    synchronized (this) {
      if (!queue.remove(w)) {
        return;
      }
      outcome = waitOutcome();
    }
    w.fail(outcome);
  }

  /** Why a request waited out: the error table's 503, 504 or 408. Caller holds the lock. */
  private InferenceException waitOutcome() {
    if (capacityBlockedAt != null) {
      return InferenceException.noCapacity();
    }
    if (provisioning > 0 || routable() == 0) {
      return InferenceException.stillStarting();
    }
    return InferenceException.requestTimeout();
  }

  private void cancel(Waiter w) {
    synchronized (this) {
      queue.remove(w);
    }
    if (w.timeout != null) {
      w.timeout.dispose();
    }
  }

  /** Applies a fresh read of the deployment and hands new slots to waiting requests. */
  void refresh(RoutableDeployment deployment) {
    List<Handoff> handoffs;
    synchronized (this) {
      update(deployment);
      handoffs = new ArrayList<>(dispatch());
      if (capacityBlockedAt != null && routable() == 0 && provisioning == 0) {
        // The scale-up these requests waited for was refused, and no worker can serve them.
        long blockedAt = capacityBlockedAt.toEpochMilli();
        for (Iterator<Waiter> it = queue.iterator(); it.hasNext(); ) {
          Waiter w = it.next();
          if (w.enqueuedAtMillis <= blockedAt) {
            it.remove();
            handoffs.add(new Handoff(w, null, InferenceException.noCapacity()));
          }
        }
      }
    }
    complete(handoffs);
  }

  /** The deployment stopped running (deleted, failed): everything waiting is answered 404. */
  void remove() {
    List<Handoff> handoffs = new ArrayList<>();
    synchronized (this) {
      removed = true;
      workers.clear();
      while (!queue.isEmpty()) {
        handoffs.add(new Handoff(queue.pollFirst(), null, InferenceException.notFound()));
      }
    }
    complete(handoffs);
  }

  /** Caller holds the lock (or is the constructor). */
  private void update(RoutableDeployment d) {
    tenantId = d.tenantId();
    spec = d.spec();
    targetSlots = spec.scalingPolicy().targetSlots();
    capacityBlockedAt = d.capacityBlockedAt();
    int starting = 0;
    var seen = new HashSet<String>();
    for (RoutableWorker w : d.workers()) {
      if (w.status() == WorkerStatus.PROVISIONING) {
        starting++;
      }
      if (w.routable()) {
        seen.add(w.id());
        Upstream u = workers.get(w.id());
        if (u == null || !u.servedAt(w.endpoint())) {
          // New, or the same id on another endpoint (an engine restarted under its worker id):
          // the old entry's requests end on their own; new ones go to the new endpoint.
          if (u != null) {
            u.leaving = true;
          }
          workers.put(w.id(), new Upstream(w.id(), w.endpoint()));
        } else {
          // A worker never comes back from draining, but a stale read might have said so.
          u.leaving = false;
        }
      }
    }
    // Draining, failed and stopped workers take no new requests; they stay listed (for their
    // in-flight count) until the requests they have finish.
    for (var it = workers.values().iterator(); it.hasNext(); ) {
      Upstream u = it.next();
      if (!seen.contains(u.workerId)) {
        u.leaving = true;
        if (u.inFlight == 0) {
          it.remove();
        }
      }
    }
    provisioning = starting;
  }

  /** Healthy workers that take requests. Caller holds the lock. */
  private int routable() {
    int n = 0;
    for (Upstream u : workers.values()) {
      if (!u.leaving) {
        n++;
      }
    }
    return n;
  }

  /**
   * Whether the demand now needs more workers than the last report said, up to {@code max_workers}
   * (beyond it a rise changes nothing: a flood sends no more reports); under the lock.
   */
  private boolean needsMoreThanReported() {
    return workersNeeded(inFlight() + queue.size()) > lastReportedNeed;
  }

  /** Requests on workers now; under the lock. */
  private int inFlight() {
    int inFlight = 0;
    for (Upstream u : workers.values()) {
      inFlight += u.inFlight;
    }
    return inFlight;
  }

  /**
   * The workers {@code requests} of this gateway need at the target utilization, at most {@code
   * max_workers}: with {@code n} gateways in its view, it has 1/n of each worker's slots, so as
   * many workers as {@code n} times its requests would need of whole workers.
   */
  int workersNeeded(int requests) {
    var policy = spec.scalingPolicy();
    return Math.min(policy.maxWorkers(), policy.workersFor(asWhole(requests)));
  }

  /** Requests on workers and waiting: what the autoscaler sizes the deployment for. */
  synchronized Demand demand() {
    Waiter oldest = queue.peekFirst();
    long waited = oldest == null ? 0 : Math.max(0, clock.getAsLong() - oldest.enqueuedAtMillis);
    return new Demand(inFlight(), queue.size(), waited);
  }

  /**
   * This gateway's {@code demand} scaled to the whole deployment, as the autoscaler reads one
   * gateway's report: each request counted once per gateway in this gateway's view (see {@link
   * #workersNeeded}).
   */
  Demand asWhole(Demand demand) {
    return new Demand(
        asWhole(demand.inFlight()), asWhole(demand.queued()), demand.oldestWaitMillis());
  }

  private int asWhole(int requests) {
    return (int) Math.min(Integer.MAX_VALUE, (long) requests * Math.max(1, partition.members()));
  }

  /** The workers now routed to, for activity reports. */
  synchronized List<Upstream> upstreams() {
    return workers.values().stream().filter(u -> !u.leaving).toList();
  }

  /**
   * Whether no worker has more requests in flight than this gateway's share of it in {@code view}.
   */
  synchronized boolean fits(SlotPartition.View view) {
    int concurrency = spec.concurrency();
    for (Upstream u : workers.values()) {
      if (u.inFlight > view.share(u.workerId, concurrency)) {
        return false;
      }
    }
    return true;
  }

  /** Whether new requests may still go to {@code workerId}. */
  synchronized boolean routesTo(String workerId) {
    Upstream u = workers.get(workerId);
    return u != null && !u.leaving;
  }

  synchronized int inFlightOf(String workerId) {
    Upstream u = workers.get(workerId);
    return u == null ? 0 : u.inFlight;
  }

  /**
   * @param oldestWaitMillis how long the request at the head of the queue has waited
   */
  record Demand(int inFlight, int queued, long oldestWaitMillis) {}

  private record Handoff(Waiter waiter, Lease lease, InferenceException error) {}

  /** A queued request. */
  private static final class Waiter {
    final MonoSink<Lease> sink;
    final long enqueuedAtMillis;
    volatile Disposable timeout = () -> {};

    Waiter(MonoSink<Lease> sink, long enqueuedAtMillis) {
      this.sink = sink;
      this.enqueuedAtMillis = enqueuedAtMillis;
    }

    /**
     * Hands over the slot. If the client went away in the meantime the sink discards it, and the
     * admission pipeline's discard hook gives it back.
     */
    void offer(Lease lease) {
      sink.success(lease);
    }

    void fail(InferenceException e) {
      sink.error(e);
    }
  }
}
