package dev.gantry.kubernetes;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Secrets that carry a deployment's env into its Pods. Values are resolved from Gantry's
 * encrypted store by the activity that needs them and written here only; Pods reference them by
 * {@code secretKeyRef}, so no value appears in a Pod spec, a log or workflow history.
 */
final class KubernetesSecrets {
  private final KubernetesClient client;
  private final String namespace;

  KubernetesSecrets(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  /** Creates the Secret, or replaces its values: a later start carries the current env. */
  void put(String name, Map<String, String> labels, Map<String, String> values) {
    Map<String, String> data = new TreeMap<>();
    values.forEach(
        (key, value) ->
            data.put(
                key, Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8))));
    Secret secret =
        new SecretBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(namespace)
            .withLabels(labels)
            .endMetadata()
            .withType("Opaque")
            .withData(data)
            .build();
    client.secrets().inNamespace(namespace).resource(secret).createOr(NonDeletingOperation::update);
  }

  void delete(String name) {
    client.secrets().inNamespace(namespace).withName(name).delete();
  }
}
