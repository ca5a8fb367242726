package dev.gantry.gateway.inference;

import static dev.gantry.gateway.inference.LoadReporter.demandDue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.RETURNS_DEEP_STUBS;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import dev.gantry.api.deployment.DemandReport;
import dev.gantry.autoscaler.Autoscaler;
import dev.gantry.gateway.deployment.DeploymentOrchestrator;
import dev.gantry.infra.config.GantryProperties;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** When the gateway tells the autoscaler about demand. */
class LoadReporterTest {
  private static final long INTERVAL = 250;

  @Test
  void aChangeInTheWorkersNeededIsReportedUpAndDown() {
    assertThat(demandDue(3, 2, false, false, INTERVAL, INTERVAL)).isTrue();
    // Down to zero too: the autoscaler's window starts from the last peak it saw.
    assertThat(demandDue(0, 3, false, false, INTERVAL, INTERVAL)).isTrue();
  }

  @Test
  void changesAreCoalescedToTheInterval() {
    assertThat(demandDue(3, 2, false, false, INTERVAL - 1, INTERVAL)).isFalse();
  }

  @Test
  void aRiseInTheWorkersNeededAsRequestsStartWaitingIsReportedAtOnce() {
    assertThat(demandDue(3, 2, true, true, 0, INTERVAL)).isTrue();
    // Not a fall, nor the same need again: those wait for the interval.
    assertThat(demandDue(1, 2, true, true, INTERVAL - 1, INTERVAL)).isFalse();
    assertThat(demandDue(2, 2, true, true, INTERVAL - 1, INTERVAL)).isFalse();
  }

  @Test
  void noDemandSendsNothing() {
    assertThat(demandDue(0, 0, false, false, 3_600_000, INTERVAL)).isFalse();
    assertThat(demandDue(0, 0, false, true, 3_600_000, INTERVAL)).isFalse();
  }

  /**
   * Steady demand is repeated, so that the control plane, which adds up the latest report of each
   * gateway and forgets one silent for {@link Autoscaler#SOURCE_TTL_MILLIS}, keeps counting it.
   */
  @Test
  void steadyDemandIsRepeatedWellWithinTheTimeTheControlPlaneRemembersIt() {
    long repeat = Autoscaler.SOURCE_REPEAT_MILLIS;
    assertThat(repeat).isLessThanOrEqualTo(Autoscaler.SOURCE_TTL_MILLIS / 3);
    assertThat(demandDue(4, 4, false, false, repeat - 1, INTERVAL)).isFalse();
    assertThat(demandDue(4, 4, false, false, repeat, INTERVAL)).isTrue();
    assertThat(demandDue(1, 1, false, false, repeat, INTERVAL)).isTrue();
  }

  @Test
  void waitingRequestsAreReportedEverySecondWithHowLongTheyWaited() {
    assertThat(demandDue(2, 2, true, false, 999, INTERVAL)).isFalse();
    assertThat(demandDue(2, 2, true, false, 1_000, INTERVAL)).isTrue();
    // The first waiting request is reported at the interval, not a second later.
    assertThat(demandDue(2, 2, true, true, INTERVAL, INTERVAL)).isTrue();
  }

  /**
   * A rise in the workers needed while a report is on its way (the control plane is slow) goes out
   * as soon as that report returns, not at a later tick. The clock stands still, so no interval or
   * repeat ever comes due: only the rise can send the second report.
   */
  @Test
  void aRiseSeenWhileAReportIsOnItsWayGoesOutWhenItReturns() throws Exception {
    var properties = mock(GantryProperties.class, RETURNS_DEEP_STUBS);
    when(properties.gateway().demandReportInterval()).thenReturn(Duration.ofMillis(INTERVAL));
    var routes = mock(RoutingTable.class);
    when(routes.all()).thenReturn(List.of());
    BlockingQueue<DemandReport> reports = new LinkedBlockingQueue<>();
    var firstMayReturn = new CountDownLatch(1);
    var orchestrator = mock(DeploymentOrchestrator.class);
    doAnswer(
            call -> {
              reports.add(call.getArgument(1));
              if (reports.size() == 1) {
                firstMayReturn.await(30, TimeUnit.SECONDS);
              }
              return null;
            })
        .when(orchestrator)
        .reportDemand(eq("dep_1"), any());
    var clock = Clock.fixed(Instant.parse("2026-12-06T10:00:00Z"), ZoneOffset.UTC);
    var reporter = new LoadReporter(routes, orchestrator, properties, clock);
    var route =
        new DeploymentRoute(
            DeploymentRouteTest.deployment(2, null, List.of(DeploymentRouteTest.starting(1))),
            clock::millis,
            Schedulers.single(),
            10);
    reporter.start();
    try {
      Mono<?> admission = route.admit(() -> reporter.queued(route));
      admission.subscribe();
      assertThat(reports.poll(30, TimeUnit.SECONDS))
          .isEqualTo(new DemandReport(0, 1, 0, reporter.source()));

      // Three waiting at concurrency 2 need a second worker; the report for one is still out.
      route.admit(() -> reporter.queued(route)).subscribe();
      route.admit(() -> reporter.queued(route)).subscribe();
      firstMayReturn.countDown();

      DemandReport second = reports.poll(30, TimeUnit.SECONDS);
      assertThat(second).isNotNull();
      assertThat(second.queued()).isEqualTo(3);
      assertThat(second.source()).isEqualTo(reporter.source());
    } finally {
      reporter.stop();
    }
  }

  @Test
  void eachGatewayNamesItselfApart() {
    var properties = mock(GantryProperties.class, RETURNS_DEEP_STUBS);
    when(properties.gateway().demandReportInterval()).thenReturn(Duration.ofMillis(INTERVAL));
    var clock = Clock.systemUTC();
    var one =
        new LoadReporter(
            mock(RoutingTable.class), mock(DeploymentOrchestrator.class), properties, clock);
    var two =
        new LoadReporter(
            mock(RoutingTable.class), mock(DeploymentOrchestrator.class), properties, clock);

    assertThat(one.source()).startsWith("gateway-" + ProcessHandle.current().pid() + "-");
    assertThat(one.source()).isNotEqualTo(two.source());
  }
}
