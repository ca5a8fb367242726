package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class KubernetesStorageTest {
  static final String DEPLOYMENT = "dep_abc123";
  KubernetesClient client;

  KubernetesStorage storage(Map<String, String> settings) {
    return new KubernetesStorage(client, TestSettings.bind(settings));
  }

  @Test
  void aDeploymentsStorageIsALabelledClaimOfItsSize() {
    var storage =
        storage(
            Map.of(
                "runtime.kubernetes.storage-class", "fast-rwx",
                "runtime.kubernetes.storage-access-mode", "ReadWriteOnce"));

    String location = storage.create(DEPLOYMENT, 40);

    assertThat(location).isEqualTo("gantry-dep-abc123");
    assertThat(storage.pathOf(DEPLOYMENT)).isEqualTo(Path.of("/gantry/storage"));
    var claim =
        client
            .persistentVolumeClaims()
            .inNamespace(TestSettings.NAMESPACE)
            .withName(location)
            .get();
    assertThat(claim.getSpec().getResources().getRequests())
        .containsEntry("storage", new Quantity("40Gi"));
    assertThat(claim.getSpec().getAccessModes()).containsExactly("ReadWriteOnce");
    assertThat(claim.getSpec().getStorageClassName()).isEqualTo("fast-rwx");
    assertThat(claim.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "gantry")
        .containsEntry("gantry.dev/deployment-id", DEPLOYMENT)
        .containsEntry("gantry.dev/component", "storage");
  }

  @Test
  void creatingAgainKeepsTheClaimAnEarlierAttemptCreated() {
    var storage = storage(Map.of());
    storage.create(DEPLOYMENT, 40);
    String uid =
        client
            .persistentVolumeClaims()
            .inNamespace(TestSettings.NAMESPACE)
            .withName("gantry-dep-abc123")
            .get()
            .getMetadata()
            .getUid();

    storage.create(DEPLOYMENT, 40);

    var claims = client.persistentVolumeClaims().inNamespace(TestSettings.NAMESPACE).list();
    assertThat(claims.getItems()).hasSize(1);
    assertThat(claims.getItems().getFirst().getMetadata().getUid()).isEqualTo(uid);
    assertThat(claims.getItems().getFirst().getSpec().getAccessModes())
        .containsExactly("ReadWriteMany");
    assertThat(claims.getItems().getFirst().getSpec().getStorageClassName()).isNull();
  }

  @Test
  void removeDeletesTheClaimTheDownloadJobAndTheSecrets() {
    var storage = storage(Map.of());
    storage.create(DEPLOYMENT, 10);
    var labels = KubernetesNames.labels(DEPLOYMENT, KubernetesNames.DOWNLOAD);
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(TestSettings.NAMESPACE)
        .resource(
            new JobBuilder()
                .withNewMetadata()
                .withName("gantry-download-dep-abc123")
                .withLabels(labels)
                .endMetadata()
                .build())
        .create();
    for (String name : new String[] {"gantry-env-dep-abc123", "gantry-dl-dep-abc123"}) {
      client
          .secrets()
          .inNamespace(TestSettings.NAMESPACE)
          .resource(new SecretBuilder().withNewMetadata().withName(name).endMetadata().build())
          .create();
    }

    storage.remove(DEPLOYMENT);
    // Removing what is gone is a no-op.
    storage.remove(DEPLOYMENT);

    assertThat(
            client.persistentVolumeClaims().inNamespace(TestSettings.NAMESPACE).list().getItems())
        .isEmpty();
    assertThat(client.batch().v1().jobs().inNamespace(TestSettings.NAMESPACE).list().getItems())
        .isEmpty();
    assertThat(client.secrets().inNamespace(TestSettings.NAMESPACE).list().getItems()).isEmpty();
  }
}
