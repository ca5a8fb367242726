package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.metrics.ColdStartMeters;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Stores when each worker was first handed a request ({@code first_routed_at}, the end of its cold
 * start) and times its last steps. Routing only notes the instant on the {@link Upstream}; this
 * writes it from a thread of its own a moment later, so the data plane never waits for the
 * database. The write counts only when it is the worker's first (of any gateway), so a gateway that
 * restarts, or a retried write, never moves it; a write that fails is tried again.
 */
@ConditionalOnGatewayRole
@Component
public class FirstRouteRecorder implements SmartLifecycle {
  private static final Logger log = LoggerFactory.getLogger(FirstRouteRecorder.class);
  private static final long PERIOD_MILLIS = 200;

  private final RoutingTable routes;
  private final WorkerRepository workers;
  private final ColdStartMeters meters;
  private final Clock clock;
  private ScheduledExecutorService ticker;
  private long lastFailureLogMillis;

  public FirstRouteRecorder(
      RoutingTable routes, WorkerRepository workers, ColdStartMeters meters, Clock clock) {
    this.routes = routes;
    this.workers = workers;
    this.meters = meters;
    this.clock = clock;
  }

  /** Stores the first-routed instants noted since the last call; the ticker calls it, tests may. */
  synchronized void flush() {
    for (DeploymentRoute route : routes.all()) {
      for (Upstream u : route.upstreams()) {
        long routedAt = u.firstRoutedMillis;
        if (routedAt == 0 || u.firstRoutedStored) {
          continue;
        }
        try {
          workers
              .recordFirstRouted(u.workerId, Instant.ofEpochMilli(routedAt))
              .ifPresent(w -> meters.recordFirstRouted(route.spec().framework(), w));
          u.firstRoutedStored = true;
        } catch (RuntimeException e) {
          logFailure(u.workerId, e);
          return;
        }
      }
    }
  }

  private void logFailure(String workerId, RuntimeException e) {
    long now = clock.millis();
    if (now - lastFailureLogMillis > 30_000) {
      lastFailureLogMillis = now;
      log.warn("Cannot record the first request of worker {}: {}", workerId, e.toString());
    }
  }

  @Override
  public synchronized void start() {
    ticker =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("gantry-first-routes").daemon().unstarted(r));
    ticker.scheduleWithFixedDelay(
        () -> {
          try {
            flush();
          } catch (RuntimeException e) {
            log.error("Recording first routed requests failed", e);
          }
        },
        PERIOD_MILLIS,
        PERIOD_MILLIS,
        TimeUnit.MILLISECONDS);
  }

  @Override
  public synchronized void stop() {
    if (ticker != null) {
      ticker.shutdownNow();
      ticker = null;
    }
  }

  @Override
  public synchronized boolean isRunning() {
    return ticker != null;
  }
}
