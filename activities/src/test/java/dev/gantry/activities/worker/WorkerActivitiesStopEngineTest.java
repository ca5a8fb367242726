package dev.gantry.activities.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerActivities.StopEngineInput;
import dev.gantry.api.worker.WorkerActivities.WorkerRef;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.metrics.ColdStartMeters;
import dev.gantry.infra.routing.LocalRouting;
import dev.gantry.infra.runtime.EngineExit;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import io.temporal.activity.ActivityOptions;
import io.temporal.failure.CanceledFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.support.StaticListableBeanFactory;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * A scale-in drain waits for live generations (hours): a deletion cancels it, and the workflow
 * stops the engine again only once the activity acknowledged. The activity must learn of the
 * cancellation from its heartbeats while it waits, end cancelled, and leave the engine to that
 * second stop.
 */
@Timeout(30)
class WorkerActivitiesStopEngineTest {
  static final String WORKER = "dep_stop1-w1";

  final TestActivityEnvironment env = TestActivityEnvironment.newInstance();

  @AfterEach
  void tearDown() {
    env.close();
  }

  @Test
  void aCancelledScaleInDrainEndsAtOnceWithoutStoppingTheEngine() {
    var runtime = new BusyRuntime();
    register(
        runtime,
        Map.of(
            "gantry.gateway.route-refresh", "10ms",
            "gantry.runtime.local.scale-in-drain-timeout", "6h"),
        null);
    // The worker workflow's heartbeat timeout is 30 s (heartbeats reach the server every 24 s);
    // 1 s here keeps the test short, the path is the same.
    var activities =
        env.newActivityStub(
            WorkerActivities.class,
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofHours(12))
                .setHeartbeatTimeout(Duration.ofSeconds(1))
                .build());

    var stop =
        CompletableFuture.runAsync(
            () ->
                activities.stopEngine(
                    new StopEngineInput(
                        new WorkerRef("dep_stop1", WORKER, Framework.SIM), true, true)));
    await().atMost(Duration.ofSeconds(10)).until(() -> runtime.inFlightCalls.get() >= 3);
    assertThat(stop).isNotDone();

    env.requestCancelActivity();

    await().atMost(Duration.ofSeconds(5)).until(stop::isDone);
    assertThat(stop).isCompletedExceptionally();
    assertThat(stop.handle((ok, e) -> e).join()).hasCauseInstanceOf(CanceledFailure.class);
    // The activity itself ended (it does not go on asking the engine), and stopped nothing.
    int calls = runtime.inFlightCalls.get();
    await()
        .pollDelay(Duration.ofMillis(700))
        .atMost(Duration.ofSeconds(3))
        .until(() -> runtime.inFlightCalls.get() == calls);
    assertThat(runtime.stops).as("the engine is left to the normal stop").isEmpty();
  }

  /**
   * When the only gateway runs in this process and says it routes nothing more to the worker, an
   * idle stop does not wait for every gateway's next refresh (two of them: here two hours, so the
   * test would time out if it did).
   */
  @Test
  void anIdleStopAsksTheOnlyGatewayInsteadOfWaitingForEveryRefresh() {
    var runtime = new BusyRuntime();
    runtime.running = 0;
    List<String> asked = new CopyOnWriteArrayList<>();
    LocalRouting gateway =
        (deploymentId, workerId) -> {
          asked.add(deploymentId + "/" + workerId);
          return true;
        };
    var beans = new StaticListableBeanFactory(Map.of("routing", gateway));
    register(
        runtime,
        Map.of("gantry.gateway.route-refresh", "1h"),
        beans.getBeanProvider(LocalRouting.class));
    var activities =
        env.newActivityStub(
            WorkerActivities.class,
            ActivityOptions.newBuilder().setStartToCloseTimeout(Duration.ofMinutes(1)).build());

    activities.stopEngine(
        new StopEngineInput(new WorkerRef("dep_stop1", WORKER, Framework.SIM), true, true));

    assertThat(asked).containsExactly("dep_stop1/" + WORKER);
    assertThat(runtime.stops).containsExactly(WORKER);
  }

  /** Registers the activities on {@code runtime} with these settings (and a data dir). */
  private void register(
      WorkerRuntime runtime, Map<String, String> settings, ObjectProvider<LocalRouting> routing) {
    var all = new java.util.HashMap<>(settings);
    all.put("gantry.data-dir", "/tmp/unused");
    var properties =
        new Binder(new MapConfigurationPropertySource(all))
            .bind("gantry", GantryProperties.class)
            .get();
    env.registerActivitiesImplementations(
        new WorkerActivitiesImpl(
            runtime,
            null,
            null,
            null,
            null,
            properties,
            new ColdStartMeters(),
            Clock.systemUTC(),
            null,
            routing));
  }

  /** One engine, always running {@link #running} requests (four unless told). */
  static final class BusyRuntime implements WorkerRuntime {
    final AtomicInteger inFlightCalls = new AtomicInteger();
    final List<String> stops = new CopyOnWriteArrayList<>();
    volatile int running = 4;

    @Override
    public RunningWorker start(WorkerLaunchRequest request) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<RunningWorker> find(String workerId) {
      return Optional.of(
          new RunningWorker(
              workerId, 1, 1, "http://127.0.0.1:1", null, 0, "/health", "/metrics", Path.of("l")));
    }

    @Override
    public boolean probe(RunningWorker worker, java.time.Duration timeout) {
      return probe(worker);
    }

    @Override
    public boolean probe(RunningWorker worker) {
      return true;
    }

    @Override
    public Optional<Integer> inFlight(RunningWorker worker) {
      inFlightCalls.incrementAndGet();
      return Optional.of(running);
    }

    @Override
    public CompletableFuture<EngineExit> onExit(String workerId) {
      return new CompletableFuture<>();
    }

    @Override
    public void stop(String workerId, Duration grace) {
      stops.add(workerId);
    }

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
