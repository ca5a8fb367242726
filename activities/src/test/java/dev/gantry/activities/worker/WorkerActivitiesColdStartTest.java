package dev.gantry.activities.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerActivities.RecordWorkerInput;
import dev.gantry.api.worker.WorkerActivities.StartWorkerInput;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.EmbeddedDatabase;
import dev.gantry.infra.db.WorkerRecord;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.metrics.ColdStartMeters;
import dev.gantry.infra.runtime.EngineExit;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.storage.LocalStorage;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.temporal.activity.ActivityOptions;
import io.temporal.client.WorkflowClient;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.support.StaticListableBeanFactory;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

/**
 * A worker's cold-start records are written by the activities around its start: the start writes
 * the deployment's decision (the instant its workflow gave) and when the engine process had
 * started; becoming healthy writes {@code healthy_at}. Each step's timer is recorded once, also
 * when the step's activity is retried.
 */
@Timeout(30)
class WorkerActivitiesColdStartTest {
  static final String DEP = "dep_coldstart1";
  static final String WORKER = DEP + "-w1";

  @TempDir Path dataDir;
  final TestActivityEnvironment env = TestActivityEnvironment.newInstance();
  final SteppedClock clock = new SteppedClock();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  WorkerRepository workers;
  WorkerActivities activities;
  final StartedRuntime runtime = new StartedRuntime();

  @BeforeEach
  void setUp() {
    var ds =
        new SimpleDriverDataSource(
            new org.h2.Driver(),
            "jdbc:h2:mem:coldstart;DB_CLOSE_DELAY=-1" + EmbeddedDatabase.POSTGRES_COMPATIBILITY,
            "sa",
            "");
    Flyway.configure().dataSource(ds).cleanDisabled(false).load().clean();
    Flyway.configure().dataSource(ds).load().migrate();
    var jdbc = JdbcClient.create(ds);
    jdbc.sql("insert into tenants (id, created_at) values ('t', current_timestamp)").update();
    jdbc.sql(
            """
            insert into deployments (id, tenant_id, name, spec, status, created_at, updated_at)
            values (:id, 't', 'cold', '{}', 'running', current_timestamp, current_timestamp)
            """)
        .param("id", DEP)
        .update();
    workers = new WorkerRepository(jdbc, clock);
    var properties =
        new Binder(
                new MapConfigurationPropertySource(Map.of("gantry.data-dir", dataDir.toString())))
            .bind("gantry", GantryProperties.class)
            .get();
    var meters = new ColdStartMeters();
    meters.bindTo(registry);
    env.registerActivitiesImplementations(
        new WorkerActivitiesImpl(
            runtime,
            new LocalStorage(properties),
            null,
            workers,
            new EngineWatcher(
                runtime,
                new StaticListableBeanFactory().getBeanProvider(WorkflowClient.class),
                properties),
            properties,
            meters,
            clock,
            null,
            null));
    activities =
        env.newActivityStub(
            WorkerActivities.class,
            ActivityOptions.newBuilder().setStartToCloseTimeout(Duration.ofSeconds(10)).build());
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  @Test
  void theStartRecordsTheDecisionAndTheProcessStartAndHealthyRecordsItsInstantOnce() {
    Instant decided = clock.now.minusMillis(250);
    var engine = new EngineIdentity(Framework.SIM, "m", null, List.of(), null);
    activities.startWorker(new StartWorkerInput(DEP, 1, engine, decided.toEpochMilli()));
    Instant processStarted = clock.now;

    WorkerRecord started = workers.find(WORKER).orElseThrow();
    assertThat(started.status()).isEqualTo(WorkerStatus.PROVISIONING);
    assertThat(started.decidedAt()).isEqualTo(decided);
    assertThat(started.processStartedAt()).isEqualTo(processStarted);
    assertThat(started.healthyAt()).isNull();

    // A retried start (the engine already runs) keeps the first instants and times nothing again.
    clock.advance(Duration.ofSeconds(1));
    activities.startWorker(new StartWorkerInput(DEP, 1, engine, decided.toEpochMilli()));
    assertThat(workers.find(WORKER).orElseThrow().processStartedAt()).isEqualTo(processStarted);
    assertThat(timer("provision").count()).isEqualTo(1);
    assertThat(timer("provision").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(250);

    clock.advance(Duration.ofMillis(1500));
    var healthy =
        new RecordWorkerInput(
            DEP, WORKER, 1, WorkerStatus.HEALTHY, null, 1, null, null, Framework.SIM);
    activities.recordWorker(healthy);
    clock.advance(Duration.ofSeconds(3));
    activities.recordWorker(healthy);

    WorkerRecord h = workers.find(WORKER).orElseThrow();
    assertThat(h.healthyAt()).isEqualTo(processStarted.plusMillis(2500));
    assertThat(h.decidedAt()).isEqualTo(decided);
    assertThat(timer("boot").count()).isEqualTo(1);
    assertThat(timer("boot").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2500);
    // Steps the gateway records are not recorded here.
    assertThat(registry.find(ColdStartMeters.NAME).tag("phase", "total").timer()).isNull();
  }

  @Test
  void aStartScheduledBeforeDecisionsWereCarriedRecordsNoDecision() {
    var engine = new EngineIdentity(Framework.SIM, "m", null, List.of(), null);
    activities.startWorker(new StartWorkerInput(DEP, 1, engine));
    WorkerRecord started = workers.find(WORKER).orElseThrow();
    assertThat(started.decidedAt()).isNull();
    assertThat(started.processStartedAt()).isEqualTo(clock.now);
    assertThat(registry.find(ColdStartMeters.NAME).timers()).isEmpty();
  }

  @Test
  void aStartingEngineIsSeenHealthyWithinAFewProbeIntervalsOfBeingReady() {
    // Ready 1.7 s after the first probe: a probe backoff doubling to 1 s (probes at 0.1, 0.3,
    // 0.7, 1.5, 2.5 s) would see it only at 2.5 s, adding almost a second to the cold start.
    runtime.readyAfterFirstProbe = Duration.ofMillis(1700);

    activities.awaitHealthy(new WorkerActivities.WorkerRef(DEP, WORKER, Framework.SIM));

    Duration late = Duration.ofNanos(System.nanoTime() - runtime.readyAtNanos);
    assertThat(late).isLessThan(Duration.ofMillis(400));
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

    void advance(Duration d) {
      now = now.plus(d);
    }
  }

  /** Starts (and finds) one engine, which answers its health probe from {@link #readyAtNanos}. */
  static final class StartedRuntime implements WorkerRuntime {
    volatile long readyAtNanos = Long.MIN_VALUE;

    /** When set, the engine is ready this long after the first probe (which sets the above). */
    volatile Duration readyAfterFirstProbe;

    static final RunningWorker ENGINE =
        new RunningWorker(
            WORKER, 1, 1, "http://127.0.0.1:1", null, 1, "/health", "/metrics", Path.of("l"));

    @Override
    public RunningWorker start(WorkerLaunchRequest request) {
      return ENGINE;
    }

    @Override
    public Optional<RunningWorker> find(String workerId) {
      return Optional.of(ENGINE);
    }

    @Override
    public boolean probe(RunningWorker worker, Duration timeout) {
      return probe(worker);
    }

    @Override
    public boolean probe(RunningWorker worker) {
      long now = System.nanoTime();
      if (readyAfterFirstProbe != null && readyAtNanos == Long.MIN_VALUE) {
        readyAtNanos = now + readyAfterFirstProbe.toNanos();
      }
      return now - readyAtNanos >= 0;
    }

    @Override
    public Optional<Integer> inFlight(RunningWorker worker) {
      return Optional.of(0);
    }

    @Override
    public CompletableFuture<EngineExit> onExit(String workerId) {
      return new CompletableFuture<>();
    }

    @Override
    public void stop(String workerId, Duration grace) {}

    @Override
    public List<String> knownWorkers() {
      return List.of(WORKER);
    }

    @Override
    public String logTail(String workerId, int lines) {
      return "";
    }

    @Override
    public void removeLogs(String deploymentId) {}
  }
}
