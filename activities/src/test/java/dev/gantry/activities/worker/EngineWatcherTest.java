package dev.gantry.activities.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.runtime.EngineExit;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import io.temporal.client.WorkflowClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mockito.ArgumentCaptor;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** Health probes of serving engines: a hung engine is reported once, a flaky one never. */
@Timeout(30)
class EngineWatcherTest {
  static final String WORKER = "dep_watcher1-w1";
  static final String OTHER = "dep_watcher1-w2";

  final WorkerWorkflow workflow = mock(WorkerWorkflow.class);
  EngineWatcher watcher;

  @AfterEach
  void tearDown() {
    if (watcher != null) {
      watcher.stopReporting();
    }
  }

  EngineWatcher watcher(FakeRuntime runtime) {
    var client = mock(WorkflowClient.class);
    when(client.newWorkflowStub(eq(WorkerWorkflow.class), eq(WorkerWorkflow.workflowIdOf(WORKER))))
        .thenReturn(workflow);
    @SuppressWarnings("unchecked")
    ObjectProvider<WorkflowClient> provider = mock(ObjectProvider.class);
    when(provider.getObject()).thenReturn(client);
    var properties =
        new Binder(
                new MapConfigurationPropertySource(
                    Map.of(
                        "gantry.data-dir", "/tmp/unused",
                        "gantry.runtime.local.health-check-interval", "50ms",
                        "gantry.runtime.local.health-check-timeout", "1s",
                        "gantry.runtime.local.health-check-failures", "3")))
            .bind("gantry", GantryProperties.class)
            .get();
    watcher = new EngineWatcher(runtime, provider, properties);
    watcher.startProbing();
    return watcher;
  }

  @Test
  void anEngineThatStopsAnsweringIsReportedOnceAfterTheThreshold() {
    var runtime = new FakeRuntime(n -> n <= 2);
    watcher(runtime).watch(WORKER);
    // A healthy engine watched alongside: its probes show the rounds going on.
    watcher.watch(OTHER);

    var exit = ArgumentCaptor.forClass(EngineExited.class);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> verify(workflow).engineExited(any()));
    int probesWhenReported = runtime.probesOf(WORKER);
    int otherWhenReported = runtime.probesOf(OTHER);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> runtime.probesOf(OTHER) >= otherWhenReported + 5);

    verify(workflow, times(1)).engineExited(exit.capture());
    assertThat(exit.getValue().reason()).startsWith("engine stopped answering health checks");
    assertThat(exit.getValue().reason()).contains("3 in a row");
    assertThat(runtime.probesOf(WORKER))
        .as("not probed once reported")
        .isEqualTo(probesWhenReported);
  }

  @Test
  void failuresThatDoNotComeInARowAreNotReported() {
    // Every third probe fails: never three in a row.
    var runtime = new FakeRuntime(n -> n % 3 != 0);
    watcher(runtime).watch(WORKER);

    await().atMost(Duration.ofSeconds(10)).until(() -> runtime.probesOf(WORKER) >= 15);

    verify(workflow, never()).engineExited(any());
  }

  /**
   * Engines that never exit; probe {@code n} (from 1) of {@link #WORKER} succeeds when {@code
   * healthy(n)}, every other engine's always.
   */
  static final class FakeRuntime implements WorkerRuntime {
    final Map<String, AtomicInteger> probes = new ConcurrentHashMap<>();
    final IntPredicate healthy;

    FakeRuntime(IntPredicate healthy) {
      this.healthy = healthy;
    }

    int probesOf(String workerId) {
      return probes.computeIfAbsent(workerId, id -> new AtomicInteger()).get();
    }

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
      int n =
          probes.computeIfAbsent(worker.workerId(), id -> new AtomicInteger()).incrementAndGet();
      return !worker.workerId().equals(WORKER) || healthy.test(n);
    }

    @Override
    public Optional<Integer> inFlight(RunningWorker worker) {
      return Optional.empty();
    }

    @Override
    public CompletableFuture<EngineExit> onExit(String workerId) {
      return new CompletableFuture<>();
    }

    @Override
    public void stop(String workerId, Duration grace) {}

    @Override
    public List<String> knownWorkers() {
      return List.of(WORKER, OTHER);
    }

    @Override
    public String logTail(String workerId, int lines) {
      return "";
    }

    @Override
    public void removeLogs(String deploymentId) {}
  }
}
