package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.config.InfraConfiguration;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.model.ModelPreparation;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.storage.DeploymentStorage;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The kubernetes adapters serve the ports exactly when the runtime type says so. */
class KubernetesConfigurationTest {
  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withUserConfiguration(InfraConfiguration.class, KubernetesConfiguration.class)
          .withBean(KubernetesClient.class, () -> Mockito.mock(KubernetesClient.class))
          .withBean(DeploymentRepository.class, () -> Mockito.mock(DeploymentRepository.class))
          .withBean(WorkerRepository.class, () -> Mockito.mock(WorkerRepository.class))
          .withPropertyValues(
              "gantry.data-dir=" + System.getProperty("java.io.tmpdir"),
              "gantry.runtime.kubernetes.namespace=gantry-test");

  @Test
  void theKubernetesTypeWiresTheKubernetesAdapters() {
    runner
        .withPropertyValues("gantry.runtime.type=kubernetes")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              assertThat(context.getBean(WorkerRuntime.class))
                  .isInstanceOf(KubernetesWorkerRuntime.class);
              assertThat(context.getBean(DeploymentStorage.class))
                  .isInstanceOf(KubernetesStorage.class);
              assertThat(context.getBean(ModelPreparation.class))
                  .isInstanceOf(KubernetesModelPreparation.class);
              assertThat(context).hasSingleBean(KubernetesSweeper.class);
            });
  }

  @Test
  void theDefaultTypeLeavesThemOut() {
    runner.run(context -> assertThat(context).doesNotHaveBean(WorkerRuntime.class));
  }
}
