package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.metrics.ColdStartMeters;
import java.time.Clock;
import java.time.Instant;
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
  private final Ticker ticker;
  private final ThrottledWarning failures;

  public FirstRouteRecorder(
      RoutingTable routes, WorkerRepository workers, ColdStartMeters meters, Clock clock) {
    this.routes = routes;
    this.workers = workers;
    this.meters = meters;
    this.ticker = new Ticker("gantry-first-routes", PERIOD_MILLIS, this::flush);
    this.failures = new ThrottledWarning(log, clock);
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
          failures.warn(
              "Cannot record the first request of worker {}: {}", u.workerId, e.toString());
          return;
        }
      }
    }
  }

  @Override
  public void start() {
    ticker.start();
  }

  @Override
  public void stop() {
    ticker.stop();
  }

  @Override
  public boolean isRunning() {
    return ticker.isRunning();
  }
}
