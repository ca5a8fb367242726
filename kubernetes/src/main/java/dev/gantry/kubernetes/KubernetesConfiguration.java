package dev.gantry.kubernetes;

import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRecord;
import dev.gantry.infra.db.WorkerRepository;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.time.Clock;
import java.util.stream.Collectors;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The {@code kubernetes} runtime's adapters behind infra's ports, when {@code
 * gantry.runtime.type=kubernetes}. The client finds its cluster the usual way: the Pod's service
 * account in a cluster, else {@code KUBECONFIG} or {@code ~/.kube/config}.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(prefix = "gantry.runtime", name = "type", havingValue = "kubernetes")
public class KubernetesConfiguration {

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  KubernetesClient kubernetesClient() {
    return new KubernetesClientBuilder().build();
  }

  @Bean(destroyMethod = "close")
  KubernetesWorkerRuntime kubernetesWorkerRuntime(
      KubernetesClient client, GantryProperties properties) {
    return new KubernetesWorkerRuntime(client, properties);
  }

  @Bean
  KubernetesStorage kubernetesStorage(KubernetesClient client, GantryProperties properties) {
    return new KubernetesStorage(client, properties);
  }

  @Bean(initMethod = "start", destroyMethod = "close")
  KubernetesSweeper kubernetesSweeper(
      KubernetesClient client,
      GantryProperties properties,
      DeploymentRepository deployments,
      WorkerRepository workers,
      Clock clock) {
    return new KubernetesSweeper(
        client,
        properties,
        id -> deployments.findById(id).map(DeploymentRecord::status),
        () -> workers.listCurrent().stream().map(WorkerRecord::id).collect(Collectors.toSet()),
        clock);
  }

  @Bean(destroyMethod = "close")
  KubernetesModelPreparation kubernetesModelPreparation(
      KubernetesClient client, GantryProperties properties) {
    return new KubernetesModelPreparation(client, properties);
  }
}
