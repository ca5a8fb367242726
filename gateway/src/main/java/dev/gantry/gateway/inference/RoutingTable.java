package dev.gantry.gateway.inference;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.gateway.deployment.DeploymentView;
import dev.gantry.gateway.deployment.WorkerLoad;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.RoutableDeployment;
import dev.gantry.infra.db.RoutingRepository;
import dev.gantry.infra.routing.LocalRouting;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Running deployments and their healthy workers, in memory. One thread re-reads them every {@code
 * gantry.gateway.route-refresh} (500 ms by default), so a worker that becomes healthy, drains or
 * goes away is routed accordingly within a second, and every {@link #STARTING_REFRESH} while
 * requests wait for a worker that is starting, so a cold start ends as soon as the worker is
 * healthy; requests never read the database. When the database is unreachable the last table keeps
 * serving.
 */
@ConditionalOnGatewayRole
@Component
public class RoutingTable implements SmartLifecycle, WorkerLoad, LocalRouting {
  private static final Logger log = LoggerFactory.getLogger(RoutingTable.class);

  private static final Duration ON_DEMAND_SPACING = Duration.ofMillis(100);

  /**
   * How often the table is read while requests wait for a deployment that has a worker starting:
   * the moment it is recorded healthy they get it, instead of up to a {@code route-refresh} later.
   */
  static final Duration STARTING_REFRESH = Duration.ofMillis(50);

  /** Deployments that had a worker starting at the last read. Written by the refreshing thread. */
  private volatile Set<String> starting = Set.of();

  private volatile long lastRefreshMillis;

  private final RoutingRepository repository;
  private final GantryProperties.Gateway settings;
  private final Clock clock;
  private final SlotPartition partition;
  private final Map<String, DeploymentRoute> routes = new ConcurrentHashMap<>();
  private final Scheduler timers = Schedulers.newSingle("gantry-admission-timers", true);
  private volatile ScheduledExecutorService refresher;
  private long lastFailureLogMillis;

  /** Completes after the next on-demand refresh; null when none is due. Guarded by onDemand. */
  private CompletableFuture<Void> onDemandDone;

  private long lastOnDemandMillis;
  private final Object onDemand = new Object();

  public RoutingTable(RoutingRepository repository, GantryProperties properties, Clock clock) {
    this(repository, properties, clock, null);
  }

  /**
   * @param membership this gateway among the gateway replicas, whose share of every worker's slots
   *     it routes by; null: every slot is this gateway's
   */
  @Autowired
  public RoutingTable(
      RoutingRepository repository,
      GantryProperties properties,
      Clock clock,
      GatewayMembership membership) {
    this.repository = repository;
    this.settings = properties.gateway();
    this.clock = clock;
    this.partition = membership == null ? SlotPartition.WHOLE : membership.partition();
    if (membership != null) {
      membership.fitsShare(view -> routes.values().stream().allMatch(r -> r.fits(view)));
    }
  }

  /** The route of a running deployment, or null. */
  DeploymentRoute find(String deploymentId) {
    return routes.get(deploymentId);
  }

  /**
   * Completes after a read of the table that began after this call. A request for a deployment the
   * table does not hold waits for it before answering 404: the deployment may have started running
   * since the last periodic read (the API already says {@code running}). Such reads are coalesced
   * and spaced at least {@link #ON_DEMAND_SPACING} apart: however many requests name unknown ids
   * (only callers with a valid key get here), they add at most ten reads a second per gateway to
   * the periodic ones.
   */
  CompletableFuture<Void> refreshed() {
    synchronized (onDemand) {
      if (onDemandDone != null) {
        return onDemandDone;
      }
      var done = new CompletableFuture<Void>();
      long delay = Math.max(0, lastOnDemandMillis + ON_DEMAND_SPACING.toMillis() - clock.millis());
      ScheduledExecutorService executor = refresher;
      try {
        if (executor == null) {
          throw new RejectedExecutionException("the routing table is not running");
        }
        executor.schedule(this::refreshOnDemand, delay, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        // Stopped (or not started): the table as it is is all there is.
        done.complete(null);
        return done;
      }
      onDemandDone = done;
      return done;
    }
  }

  private void refreshOnDemand() {
    CompletableFuture<Void> done;
    synchronized (onDemand) {
      done = onDemandDone;
      onDemandDone = null;
      lastOnDemandMillis = clock.millis();
    }
    try {
      refreshQuietly();
    } finally {
      if (done != null) {
        done.complete(null);
      }
    }
  }

  /** The spec of a running deployment the tenant owns, or null (not found, not theirs). */
  public DeploymentSpec servedSpec(String deploymentId, String tenantId) {
    DeploymentRoute route = routes.get(deploymentId);
    return route == null || !route.tenantId().equals(tenantId) ? null : route.spec();
  }

  /**
   * Like {@link #servedSpec}, but a miss is looked up again after a fresh read of the table (a
   * deployment may run since the last one). Blocks (up to a few seconds): never on an event loop.
   */
  public DeploymentSpec servedSpecAfterMiss(String deploymentId, String tenantId) {
    DeploymentSpec spec = servedSpec(deploymentId, tenantId);
    if (spec != null) {
      return spec;
    }
    try {
      refreshed().get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException | TimeoutException e) {
      log.warn(
          "The routing table was not read again in time for {}: {}", deploymentId, e.toString());
    }
    return servedSpec(deploymentId, tenantId);
  }

  @Override
  public int inFlight(String deploymentId, String workerId) {
    DeploymentRoute route = routes.get(deploymentId);
    return route == null ? 0 : route.inFlightOf(workerId);
  }

  @Override
  public DeploymentView.Queue queue(String deploymentId) {
    DeploymentRoute route = routes.get(deploymentId);
    if (route == null) {
      return new DeploymentView.Queue(0, 0);
    }
    var demand = route.demand();
    return new DeploymentView.Queue(demand.inFlight(), demand.queued());
  }

  Collection<DeploymentRoute> all() {
    return routes.values();
  }

  /**
   * Re-reads the table now; the refresher calls it, and so may tests. Returns whether it could be
   * read (else the last table stays).
   */
  public synchronized boolean refresh() {
    lastRefreshMillis = clock.millis();
    Collection<RoutableDeployment> running;
    try {
      running = repository.loadRunning();
    } catch (RuntimeException e) {
      long now = clock.millis();
      if (now - lastFailureLogMillis > 30_000) {
        lastFailureLogMillis = now;
        log.warn("Cannot refresh the routing table, serving the last one: {}", e.toString());
      }
      return false;
    }
    var ids = new HashSet<String>();
    var nowStarting = new HashSet<String>();
    for (RoutableDeployment d : running) {
      ids.add(d.id());
      if (d.workers().stream().anyMatch(w -> w.status() == WorkerStatus.PROVISIONING)) {
        nowStarting.add(d.id());
      }
      DeploymentRoute route = routes.get(d.id());
      if (route == null) {
        routes.put(
            d.id(), new DeploymentRoute(d, clock::millis, timers, settings.maxQueue(), partition));
      } else {
        route.refresh(d);
      }
    }
    for (var it = routes.entrySet().iterator(); it.hasNext(); ) {
      var entry = it.next();
      if (!ids.contains(entry.getKey())) {
        it.remove();
        entry.getValue().remove();
      }
    }
    starting = Set.copyOf(nowStarting);
    return true;
  }

  /**
   * Whether this gateway, alone in its view (no other replica may route), routes nothing more to a
   * worker the control plane just recorded draining: the table re-read now no longer offers it, and
   * no request of this gateway is on it. Saves a stopping worker the wait for the next refresh of
   * every gateway ({@code WorkerActivitiesImpl}); in doubt the answer is no, and it waits.
   */
  @Override
  public boolean noLongerRoutes(String deploymentId, String workerId) {
    if (partition.members() != 1 || !refresh()) {
      return false;
    }
    DeploymentRoute route = routes.get(deploymentId);
    return route == null || !route.routesTo(workerId) && route.inFlightOf(workerId) == 0;
  }

  /**
   * The refresher's tick, every {@link #STARTING_REFRESH}: reads the table every {@code
   * route-refresh}, and at every tick while requests wait for a deployment with a worker starting.
   */
  private void tick() {
    long since = clock.millis() - lastRefreshMillis;
    if (since >= settings.routeRefresh().toMillis()
        || since >= STARTING_REFRESH.toMillis() && waitingForStartingWorker()) {
      refreshQuietly();
    }
  }

  /** Whether requests wait for a deployment that had a worker starting at the last read. */
  private boolean waitingForStartingWorker() {
    for (String id : starting) {
      DeploymentRoute route = routes.get(id);
      if (route != null && route.demand().queued() > 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * Starts before, and stops after, what routes through it without an HTTP request (the async job
   * worker): a job must never find the table empty because it has not loaded yet.
   */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 200;
  }

  @Override
  public synchronized void start() {
    refresh();
    refresher =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("gantry-routes").daemon().unstarted(r));
    long tick = Math.min(STARTING_REFRESH.toMillis(), settings.routeRefresh().toMillis());
    refresher.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.MILLISECONDS);
  }

  private void refreshQuietly() {
    try {
      refresh();
    } catch (RuntimeException e) {
      log.error("Routing table refresh failed", e);
    }
  }

  @Override
  public synchronized void stop() {
    if (refresher != null) {
      refresher.shutdownNow();
      refresher = null;
    }
    synchronized (onDemand) {
      if (onDemandDone != null) {
        onDemandDone.complete(null);
        onDemandDone = null;
      }
    }
    timers.dispose();
  }

  @Override
  public synchronized boolean isRunning() {
    return refresher != null;
  }
}
