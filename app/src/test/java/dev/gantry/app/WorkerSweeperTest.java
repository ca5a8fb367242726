package dev.gantry.app;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.gantry.activities.worker.EngineWatcher;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.runtime.WorkerRuntime;
import io.temporal.client.WorkflowClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** A graceful stop stops the engines that are this host's processes, and only those. */
class WorkerSweeperTest {
  private final GantryProperties properties =
      new Binder(
              new MapConfigurationPropertySource(
                  Map.of("gantry.data-dir", System.getProperty("java.io.tmpdir"))))
          .bind("gantry", GantryProperties.class)
          .get();

  private WorkerSweeper sweeper(WorkerRuntime runtime) {
    return new WorkerSweeper(
        runtime,
        mock(EngineWatcher.class),
        mock(WorkerRepository.class),
        mock(WorkflowClient.class),
        properties);
  }

  @Test
  void engineProcessesStopWithThePlatform() {
    var runtime = mock(WorkerRuntime.class);
    when(runtime.enginesStopWithPlatform()).thenReturn(true);
    when(runtime.knownWorkers()).thenReturn(List.of("dep_abc123-w1"));

    sweeper(runtime).stopEnginesOnShutdown();

    verify(runtime).stop(anyString(), any(Duration.class));
  }

  @Test
  void podsOutliveAnOrchestratorsRestart() {
    var runtime = mock(WorkerRuntime.class);
    when(runtime.enginesStopWithPlatform()).thenReturn(false);
    when(runtime.knownWorkers()).thenReturn(List.of("dep_abc123-w1"));

    sweeper(runtime).stopEnginesOnShutdown();

    verify(runtime, never()).stop(anyString(), any(Duration.class));
  }
}
