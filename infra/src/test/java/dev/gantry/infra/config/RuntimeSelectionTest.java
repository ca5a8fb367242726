package dev.gantry.infra.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.gpu.GpuInventory;
import dev.gantry.infra.model.ModelPreparation;
import dev.gantry.infra.model.ModelPreparer;
import dev.gantry.infra.runtime.EngineLaunchSpecs;
import dev.gantry.infra.runtime.LocalWorkerRuntime;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.storage.DeploymentStorage;
import dev.gantry.infra.storage.LocalStorage;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** {@code gantry.runtime.type} picks the adapters behind the runtime's ports. */
class RuntimeSelectionTest {
  @TempDir Path dataDir;

  private ApplicationContextRunner runner() {
    return new ApplicationContextRunner()
        .withUserConfiguration(
            InfraConfiguration.class,
            GpuInventory.class,
            EngineLaunchSpecs.class,
            LocalWorkerRuntime.class,
            LocalStorage.class,
            ModelPreparer.class)
        // The gateway role only: no engine containment check, which needs no host setup here.
        .withPropertyValues("gantry.data-dir=" + dataDir, "gantry.roles=gateway");
  }

  @Test
  void theLocalAdaptersServeThePortsByDefault() {
    runner()
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              assertThat(context.getBean(GantryProperties.class).runtime().type())
                  .isEqualTo(GantryProperties.Runtime.Type.LOCAL);
              assertThat(context.getBean(WorkerRuntime.class))
                  .isInstanceOf(LocalWorkerRuntime.class);
              assertThat(context.getBean(DeploymentStorage.class)).isInstanceOf(LocalStorage.class);
              assertThat(context.getBean(ModelPreparation.class)).isInstanceOf(ModelPreparer.class);
            });
  }

  @Test
  void theKubernetesTypeLeavesThePortsToItsOwnAdapters() {
    runner()
        .withPropertyValues("gantry.runtime.type=kubernetes")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              assertThat(context.getBean(GantryProperties.class).runtime().type())
                  .isEqualTo(GantryProperties.Runtime.Type.KUBERNETES);
              assertThat(context).doesNotHaveBean(WorkerRuntime.class);
              assertThat(context).doesNotHaveBean(DeploymentStorage.class);
              assertThat(context).doesNotHaveBean(ModelPreparation.class);
            });
  }

  @Test
  void anUnknownTypeFailsTheStart() {
    runner()
        .withPropertyValues("gantry.runtime.type=docker")
        .run(context -> assertThat(context).hasFailed());
  }
}
