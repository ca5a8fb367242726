package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentStatus;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class KubernetesSweeperTest {
  static final String ALIVE = "dep_alive1";
  static final String DELETED = "dep_deleted1";
  static final String FAILED = "dep_failed1";
  static final String UNKNOWN = "dep_unknown1";

  KubernetesClient client;
  TestSettings.MovableClock clock;
  final Map<String, DeploymentStatus> deployments = new HashMap<>();
  KubernetesSweeper sweeper;

  @BeforeEach
  void setUp() {
    clock = new TestSettings.MovableClock();
    deployments.put(ALIVE, DeploymentStatus.RUNNING);
    deployments.put(DELETED, DeploymentStatus.DELETED);
    deployments.put(FAILED, DeploymentStatus.FAILED);
    sweeper =
        new KubernetesSweeper(
            client,
            TestSettings.defaults(),
            id -> Optional.ofNullable(deployments.get(id)),
            () -> Set.of(ALIVE + "-w1"),
            clock);
    for (String deployment : List.of(ALIVE, DELETED, FAILED, UNKNOWN)) {
      objectsOf(deployment);
    }
    worker(ALIVE, ALIVE + "-w1");
    worker(ALIVE, ALIVE + "-w2");
    worker(DELETED, DELETED + "-w1");
    // Someone else's object, in the same namespace: never Gantry's to delete.
    client
        .pods()
        .inNamespace(TestSettings.NAMESPACE)
        .resource(
            new PodBuilder()
                .withMetadata(
                    new ObjectMetaBuilder()
                        .withName("other-team-pod")
                        .withLabels(Map.of("app", "other"))
                        .build())
                .build())
        .create();
  }

  void objectsOf(String deployment) {
    String ns = TestSettings.NAMESPACE;
    client
        .persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withMetadata(
                    meta(
                        KubernetesNames.claimName(deployment), deployment, KubernetesNames.STORAGE))
                .build())
        .create();
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(ns)
        .resource(
            new JobBuilder()
                .withMetadata(
                    meta(KubernetesNames.jobName(deployment), deployment, KubernetesNames.DOWNLOAD))
                .build())
        .create();
    client
        .secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withMetadata(
                    meta(
                        KubernetesNames.engineSecretName(deployment),
                        deployment,
                        KubernetesNames.ENGINE_ENV))
                .build())
        .create();
  }

  void worker(String deployment, String workerId) {
    var meta = meta(KubernetesNames.podName(workerId), deployment, KubernetesNames.WORKER);
    meta.getLabels().put(KubernetesNames.WORKER_ID, workerId);
    client
        .pods()
        .inNamespace(TestSettings.NAMESPACE)
        .resource(new PodBuilder().withMetadata(meta).build())
        .create();
  }

  static io.fabric8.kubernetes.api.model.ObjectMeta meta(
      String name, String deployment, String component) {
    return new ObjectMetaBuilder()
        .withName(name)
        .withLabels(new HashMap<>(KubernetesNames.labels(deployment, component)))
        .build();
  }

  List<String> names(List<? extends HasMetadata> objects) {
    return objects.stream().map(o -> o.getMetadata().getName()).sorted().toList();
  }

  @Test
  void objectsWhoseDeploymentOrWorkerIsGoneAreDeleted() {
    clock.advance(Duration.ofMinutes(6));

    var deleted = sweeper.sweep();

    String ns = TestSettings.NAMESPACE;
    assertThat(names(client.persistentVolumeClaims().inNamespace(ns).list().getItems()))
        .containsExactly("gantry-dep-alive1");
    assertThat(names(client.batch().v1().jobs().inNamespace(ns).list().getItems()))
        .containsExactly("gantry-download-dep-alive1");
    assertThat(names(client.secrets().inNamespace(ns).list().getItems()))
        .containsExactly("gantry-env-dep-alive1");
    // w2 has ended (its row is no longer current); w1 serves.
    assertThat(names(client.pods().inNamespace(ns).list().getItems()))
        .containsExactly("gantry-dep-alive1-w1", "other-team-pod");
    assertThat(deleted)
        .contains(
            "persistentvolumeclaim/gantry-dep-deleted1",
            "persistentvolumeclaim/gantry-dep-failed1",
            "persistentvolumeclaim/gantry-dep-unknown1",
            "job/gantry-download-dep-unknown1",
            "pod/gantry-dep-alive1-w2",
            "pod/gantry-dep-deleted1-w1");
  }

  @Test
  void objectsYoungerThanTheGraceAreLeftAlone() {
    clock.advance(Duration.ofMinutes(4));

    assertThat(sweeper.sweep()).isEmpty();
    assertThat(
            client.persistentVolumeClaims().inNamespace(TestSettings.NAMESPACE).list().getItems())
        .hasSize(4);
  }
}
