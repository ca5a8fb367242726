package dev.gantry.kubernetes;

import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.storage.DeploymentStorage;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.HttpURLConnection;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A deployment's storage on Kubernetes: a PersistentVolumeClaim of {@code storage_gb}, which the
 * model download Job fills and every worker Pod mounts read-only at {@link
 * KubernetesNames#STORAGE_MOUNT}. Removing it removes everything else the deployment left in the
 * cluster too (its download Job and Secrets), so the compensation leaves nothing behind.
 */
public class KubernetesStorage implements DeploymentStorage {
  private static final Logger log = LoggerFactory.getLogger(KubernetesStorage.class);

  private final KubernetesClient client;
  private final String namespace;
  private final GantryProperties.Kubernetes settings;

  public KubernetesStorage(KubernetesClient client, GantryProperties properties) {
    this.client = client;
    this.settings = properties.runtime().kubernetes();
    this.namespace = KubernetesWorkerRuntime.namespaceOf(client, settings);
  }

  /** Creates the claim if missing; returns its name. */
  @Override
  public String create(String deploymentId, int sizeGb) {
    String name = KubernetesNames.claimName(deploymentId);
    PersistentVolumeClaim claim =
        new PersistentVolumeClaimBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(namespace)
            .withLabels(KubernetesNames.labels(deploymentId, KubernetesNames.STORAGE))
            .endMetadata()
            .withNewSpec()
            .withAccessModes(List.of(settings.storageAccessMode()))
            .withStorageClassName(settings.storageClass())
            .withNewResources()
            .withRequests(Map.of("storage", new Quantity(Math.max(1, sizeGb) + "Gi")))
            .endResources()
            .endSpec()
            .build();
    try {
      client.persistentVolumeClaims().inNamespace(namespace).resource(claim).create();
      log.info(
          "created the storage claim {} ({} GiB) of deployment {}", name, sizeGb, deploymentId);
    } catch (KubernetesClientException e) {
      if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
        throw e;
      }
      // A retried activity: the claim an earlier attempt created is the deployment's storage.
    }
    return name;
  }

  @Override
  public Path pathOf(String deploymentId) {
    return Path.of(KubernetesNames.STORAGE_MOUNT);
  }

  /**
   * Deletes the download Job (with its Pods), the deployment's Secrets and its claim. Kubernetes
   * keeps a claim until no Pod uses it; the deletion is requested, not awaited.
   */
  @Override
  public void remove(String deploymentId) {
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(namespace)
        .withName(KubernetesNames.jobName(deploymentId))
        .withPropagationPolicy(DeletionPropagation.BACKGROUND)
        .delete();
    var secrets = new KubernetesSecrets(client, namespace);
    secrets.delete(KubernetesNames.downloadSecretName(deploymentId));
    secrets.delete(KubernetesNames.engineSecretName(deploymentId));
    client
        .persistentVolumeClaims()
        .inNamespace(namespace)
        .withName(KubernetesNames.claimName(deploymentId))
        .delete();
    log.info("removed the storage claim, download Job and Secrets of deployment {}", deploymentId);
  }
}
