package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.EmbeddedDatabase;
import dev.gantry.infra.db.RoutingRepository;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.db.WorkerRepository.WorkerTransition;
import dev.gantry.infra.metrics.ColdStartMeters;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The last steps of a cold start in the gateway: a request waiting for a starting worker gets it as
 * soon as it is recorded healthy, and the instant the gateway first hands a worker a request is
 * noted by routing (no database on the request path) and stored afterwards by the recorder, once
 * per worker across gateways, with the {@code first_request} and {@code total} timers.
 */
@Timeout(30)
class ColdStartRoutingTest {
  static final String DEP = "dep_firstroute1";
  static final String WORKER = DEP + "-w1";

  @TempDir Path dataDir;
  final SteppedClock clock = new SteppedClock();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final ColdStartMeters meters = new ColdStartMeters();
  WorkerRepository workers;
  RoutingRepository routing;
  GantryProperties properties;
  Instant decided;

  @BeforeEach
  void setUp() {
    var ds =
        new org.springframework.jdbc.datasource.SimpleDriverDataSource(
            new org.h2.Driver(),
            "jdbc:h2:mem:firstroute;DB_CLOSE_DELAY=-1" + EmbeddedDatabase.POSTGRES_COMPATIBILITY,
            "sa",
            "");
    Flyway.configure().dataSource(ds).cleanDisabled(false).load().clean();
    Flyway.configure().dataSource(ds).load().migrate();
    var jdbc = JdbcClient.create(ds);
    new ApiKeyRepository(jdbc, clock).ensureTenant("acme");
    var deployments = new DeploymentRepository(jdbc, clock);
    deployments.insert(
        DEP,
        "acme",
        new DeploymentSpec(
            "chat", "tiny", Framework.SIM, null, 0, 2, 1, 300, 60, 1, List.of(), List.of()),
        null);
    deployments.updateStatus(DEP, DeploymentStatus.RUNNING, null);
    workers = new WorkerRepository(jdbc, clock);
    routing = new RoutingRepository(jdbc);
    properties =
        new Binder(
                new MapConfigurationPropertySource(Map.of("gantry.data-dir", dataDir.toString())))
            .bind("gantry", GantryProperties.class)
            .get();
    meters.bindTo(registry);
    decided = clock.now;
    clock.advance(Duration.ofMillis(200));
    workers.record(
        new WorkerTransition(
            DEP,
            WORKER,
            1,
            WorkerStatus.PROVISIONING,
            null,
            1,
            "http://127.0.0.1:1",
            null,
            decided,
            clock.now));
  }

  void healthy() {
    clock.advance(Duration.ofSeconds(2));
    workers.record(new WorkerTransition(DEP, WORKER, 1, WorkerStatus.HEALTHY, null, 1, null, null));
  }

  @Test
  void aRequestWaitingForAStartingWorkerGetsItAsSoonAsItIsHealthy() throws Exception {
    // Periodic reads far apart: only the reads while a request waits for a starting worker can
    // hand it the worker in time.
    var slowRefresh =
        new Binder(
                new MapConfigurationPropertySource(
                    Map.of(
                        "gantry.data-dir",
                        dataDir.toString(),
                        "gantry.gateway.route-refresh",
                        "20s")))
            .bind("gantry", GantryProperties.class)
            .get();
    var routes = new RoutingTable(routing, slowRefresh, Clock.systemUTC());
    routes.start();
    try {
      var waiting = routes.find(DEP).admit(() -> {}).toFuture();
      assertThat(waiting).as("no worker is healthy yet").isNotDone();

      healthy();

      var lease = waiting.get(5, TimeUnit.SECONDS);
      assertThat(lease.upstream.workerId).isEqualTo(WORKER);
      lease.route.release(lease);
    } finally {
      routes.stop();
    }
  }

  @Test
  void theFirstRequestHandedToAWorkerIsStoredOnceAndTimed() {
    healthy();
    var routes = new RoutingTable(routing, properties, clock);
    routes.refresh();
    var recorder = new FirstRouteRecorder(routes, workers, meters, clock);

    recorder.flush();
    assertThat(workers.find(WORKER).orElseThrow().firstRoutedAt()).as("no request yet").isNull();

    clock.advance(Duration.ofMillis(300));
    Instant routed = clock.now;
    var route = routes.find(DEP);
    var lease = route.admit(() -> {}).block(Duration.ofSeconds(5));
    assertThat(lease.upstream.workerId).isEqualTo(WORKER);
    // Routing only noted it; nothing is written until the recorder runs.
    assertThat(workers.find(WORKER).orElseThrow().firstRoutedAt()).isNull();
    route.release(lease);
    clock.advance(Duration.ofSeconds(1));
    route.release(route.admit(() -> {}).block(Duration.ofSeconds(5)));

    recorder.flush();
    recorder.flush();

    assertThat(workers.find(WORKER).orElseThrow().firstRoutedAt()).isEqualTo(routed);
    assertThat(timer("first_request").count()).isEqualTo(1);
    assertThat(timer("first_request").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(300);
    assertThat(timer("total").count()).isEqualTo(1);
    assertThat(timer("total").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2500);

    // Another gateway (or this one restarted) routing to it later changes nothing.
    var otherGateway = new RoutingTable(routing, properties, clock);
    otherGateway.refresh();
    var otherRoute = otherGateway.find(DEP);
    clock.advance(Duration.ofSeconds(5));
    otherRoute.release(otherRoute.admit(() -> {}).block(Duration.ofSeconds(5)));
    new FirstRouteRecorder(otherGateway, workers, meters, clock).flush();

    assertThat(workers.find(WORKER).orElseThrow().firstRoutedAt()).isEqualTo(routed);
    assertThat(timer("total").count()).isEqualTo(1);
  }

  private io.micrometer.core.instrument.Timer timer(String phase) {
    return registry.get(ColdStartMeters.NAME).tag("phase", phase).tag("framework", "sim").timer();
  }

  /** A clock moved by hand. */
  static final class SteppedClock extends Clock {
    Instant now = Instant.parse("2026-03-01T10:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public long millis() {
      return now.toEpochMilli();
    }

    void advance(Duration d) {
      now = now.plus(d);
    }
  }
}
