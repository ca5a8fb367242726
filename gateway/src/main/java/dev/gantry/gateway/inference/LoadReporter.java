package dev.gantry.gateway.inference;

import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.autoscaler.Autoscaler;
import dev.gantry.gateway.deployment.DeploymentOrchestrator;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Tells the control plane what the data plane sees, coalesced: a deployment's demand whenever the
 * workers it needs change (at once when they rise as requests start waiting, else at most every
 * {@code demand-report-interval}, and again every second while requests wait, and every {@link
 * Autoscaler#SOURCE_REPEAT_MILLIS} while there is any demand), and each worker's last use, at most
 * a few times per idle timeout. Reports go out on virtual threads, at most one in flight per
 * deployment, so a slow control plane never holds up requests or other deployments.
 *
 * <p>Each demand report carries this gateway's name ({@link #source()}, new at every start) and
 * counts its requests as the whole deployment would need them ({@link DeploymentRoute#asWhole}):
 * with several gateways in front of a deployment, the control plane sizes it for the largest latest
 * report.
 */
@ConditionalOnGatewayRole
@Component
public class LoadReporter implements SmartLifecycle {
  private static final Logger log = LoggerFactory.getLogger(LoadReporter.class);
  private static final long REPEAT_MILLIS = 1_000;
  private static final long MAX_ACTIVITY_INTERVAL_MILLIS = 60_000;

  private final RoutingTable routes;
  private final DeploymentOrchestrator orchestrator;
  private final Clock clock;
  private final long intervalMillis;
  private final Ticker ticker;
  private final ThrottledWarning failures;
  private final String source = newSourceName();

  public LoadReporter(
      RoutingTable routes,
      DeploymentOrchestrator orchestrator,
      GantryProperties properties,
      Clock clock) {
    this.routes = routes;
    this.orchestrator = orchestrator;
    this.clock = clock;
    this.intervalMillis = properties.gateway().demandReportInterval().toMillis();
    this.ticker = new Ticker("gantry-load-reporter", Math.min(intervalMillis, 500), this::tick);
    this.failures = new ThrottledWarning(log, clock);
  }

  /** This gateway's name in its demand reports: its process id and a random part. */
  String source() {
    return source;
  }

  private static String newSourceName() {
    byte[] random = new byte[6];
    new SecureRandom().nextBytes(random);
    return "gateway-" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(random);
  }

  /**
   * A request started waiting on an empty queue, or made the demand need more workers than last
   * reported: report now, a cold start is on the clock.
   */
  void queued(DeploymentRoute route) {
    ticker.execute(() -> reportDemand(route, true));
  }

  private void tick() {
    long now = clock.millis();
    for (DeploymentRoute route : routes.all()) {
      reportDemand(route, false);
      reportActivity(route, now);
    }
  }

  /**
   * Reports when the workers the demand needs (at the target utilization) changed, up or down, at
   * most every {@code demand-report-interval}; and while requests wait, every second, so the
   * autoscaler sees how long they have waited.
   */
  private void reportDemand(DeploymentRoute route, boolean urgent) {
    var demand = route.demand();
    int need = workersNeeded(route, demand);
    long now = clock.millis();
    boolean due =
        demandDue(
            need,
            route.lastReportedNeed,
            demand.queued() > 0,
            urgent,
            now - route.lastDemandReportMillis,
            intervalMillis);
    if (!due || !route.reporting.compareAndSet(false, true)) {
      return;
    }
    route.lastDemandReportMillis = now;
    route.lastReportedNeed = need;
    var whole = route.asWhole(demand);
    var report =
        new DemandReport(whole.inFlight(), whole.queued(), whole.oldestWaitMillis(), source);
    Thread.ofVirtual()
        .name("gantry-demand-report")
        .start(
            () -> {
              try {
                orchestrator.reportDemand(route.deploymentId, report);
              } catch (RuntimeException e) {
                logFailure("demand of " + route.deploymentId, e);
              } finally {
                route.reporting.set(false);
              }
              // Demand that rose while this report was on its way goes out now, not at the next
              // tick; anything else waits for the tick.
              if (workersNeeded(route, route.demand()) > route.lastReportedNeed) {
                reportDemand(route, true);
              }
            });
  }

  /** The workers {@code demand} needs at the deployment's target utilization, up to its max. */
  private static int workersNeeded(DeploymentRoute route, DeploymentRoute.Demand demand) {
    return route.workersNeeded(demand.inFlight() + demand.queued());
  }

  /**
   * Whether a demand report is due: the workers the demand needs changed (or a first request
   * started waiting) and the last report is at least {@code intervalMillis} old, or requests wait
   * and it is a second old, or any demand stands and the last report is {@link
   * Autoscaler#SOURCE_REPEAT_MILLIS} old (the control plane forgets a gateway's share after {@link
   * Autoscaler#SOURCE_TTL_MILLIS} without a report). Nothing is sent while there is no demand and
   * nothing changed.
   */
  static boolean demandDue(
      int need,
      int lastNeed,
      boolean queued,
      boolean urgent,
      long sinceLastMillis,
      long intervalMillis) {
    if (!queued && need == lastNeed) {
      return need > 0 && sinceLastMillis >= Autoscaler.SOURCE_REPEAT_MILLIS;
    }
    if (urgent && need > lastNeed) {
      // A scale-up: each worker's cold start counts from the decision, so no coalescing.
      return true;
    }
    return (urgent || need != lastNeed) && sinceLastMillis >= intervalMillis
        || queued && sinceLastMillis >= REPEAT_MILLIS;
  }

  private void reportActivity(DeploymentRoute route, long now) {
    long interval =
        Math.min(MAX_ACTIVITY_INTERVAL_MILLIS, route.spec().idleTimeoutSeconds() * 1000L / 3);
    for (Upstream u : route.upstreams()) {
      long used = route.inFlightOf(u.workerId) > 0 ? now : u.lastUsedMillis;
      if (used <= u.reportedUsedMillis || now - u.reportedAtMillis < interval) {
        continue;
      }
      u.reportedUsedMillis = used;
      u.reportedAtMillis = now;
      var report = new ActivityReport(used);
      Thread.ofVirtual()
          .name("gantry-activity-report")
          .start(
              () -> {
                try {
                  orchestrator.reportWorkerActivity(u.workerId, report);
                } catch (RuntimeException e) {
                  logFailure("activity of " + u.workerId, e);
                }
              });
    }
  }

  private void logFailure(String what, RuntimeException e) {
    failures.warn("Cannot report {} to the control plane: {}", what, e.toString());
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
