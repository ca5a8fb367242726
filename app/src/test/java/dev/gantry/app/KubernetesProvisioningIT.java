package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real jar on {@code gantry.runtime.type=kubernetes}, against fabric8's mock API server: a
 * deployment's storage becomes a claim, its model a download Job running {@code gantry.jar
 * download}, the Job's outcome moves the deployment to {@code running}, and deleting it leaves no
 * object with Gantry's labels. The test plays the Job controller; worker Pods (which need a kubelet
 * stand-in) are not part of it.
 */
@Timeout(180)
class KubernetesProvisioningIT {
  static final String NAMESPACE = "gantry-it";
  static final Map<String, String> GANTRY = Map.of("app.kubernetes.io/managed-by", "gantry");

  static KubernetesMockServer server;
  static NamespacedKubernetesClient client;
  static PlatformProcess platform;

  @BeforeAll
  static void start() throws Exception {
    server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            new HashMap<>(),
            new KubernetesCrudDispatcher(),
            true);
    server.init();
    client = server.createClient();
    platform =
        new PlatformProcess(
                "kubernetes",
                "--gantry.runtime.type=kubernetes",
                "--gantry.runtime.kubernetes.namespace=" + NAMESPACE)
            .withJvmOptions(
                "-Dkubernetes.master=" + client.getMasterUrl(),
                "-Dkubernetes.trust.certificates=true",
                "-Dkubernetes.auth.tryKubeConfig=false",
                "-Dkubernetes.auth.tryServiceAccount=false")
            .start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (platform != null) {
      platform.close();
    }
    if (server != null) {
      server.destroy();
    }
  }

  @Test
  void aDeploymentIsProvisionedAndRemovedThroughKubernetesObjects() throws Exception {
    var created =
        platform.post(
            "/api/v1/deployments",
            Map.of(
                "name", "on-kubernetes",
                "model", "tiny-chat",
                "framework", "sim",
                "env", Map.of("HF_TOKEN", "hf_it_secret_token"),
                "storage_gb", 3));
    assertThat(created.statusCode()).isEqualTo(201);
    String dep = PlatformProcess.json(created).get("id").asText();
    String dns = dep.replace('_', '-');

    Job job =
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    client
                        .batch()
                        .v1()
                        .jobs()
                        .inNamespace(NAMESPACE)
                        .withName("gantry-download-" + dns)
                        .get(),
                j -> j != null);
    var claim =
        client.persistentVolumeClaims().inNamespace(NAMESPACE).withName("gantry-" + dns).get();
    assertThat(claim.getSpec().getResources().getRequests().get("storage").toString())
        .isEqualTo("3Gi");
    assertThat(job.getSpec().getTemplate().getSpec().getContainers().getFirst().getCommand())
        .contains("download", "--framework=sim", "--model=tiny-chat", "--deployment-id=" + dep);
    assertThat(
            PlatformProcess.json(platform.get("/api/v1/deployments/" + dep)).get("status").asText())
        .isEqualTo("downloading_model");

    // The Job controller's and the kubelet's part: a Pod that ran the download, and the Job's end.
    Map<String, String> labels =
        new LinkedHashMap<>(job.getSpec().getTemplate().getMetadata().getLabels());
    labels.put("batch.kubernetes.io/controller-uid", job.getMetadata().getUid());
    client
        .pods()
        .inNamespace(NAMESPACE)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("gantry-download-" + dns + "-x1")
                .withLabels(labels)
                .endMetadata()
                .withSpec(job.getSpec().getTemplate().getSpec())
                .build())
        .create();
    client
        .pods()
        .inNamespace(NAMESPACE)
        .withName("gantry-download-" + dns + "-x1")
        .editStatus(
            p -> {
              p.setStatus(
                  new PodStatusBuilder()
                      .withPhase("Succeeded")
                      .withContainerStatuses(
                          new ContainerStatusBuilder()
                              .withName("download")
                              .withState(
                                  new ContainerStateBuilder()
                                      .withNewTerminated()
                                      .withExitCode(0)
                                      .withMessage(
                                          "{\"status\":\"ok\",\"bytes\":128,\"revision\":null}")
                                      .endTerminated()
                                      .build())
                              .build())
                      .build());
              return p;
            });
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(NAMESPACE)
        .withName("gantry-download-" + dns)
        .editStatus(
            j -> {
              j.setStatus(
                  new JobStatusBuilder()
                      .withConditions(
                          new JobConditionBuilder().withType("Complete").withStatus("True").build())
                      .build());
              return j;
            });

    platform.awaitStatus(dep, "running", Duration.ofSeconds(60));

    assertThat(platform.delete("/api/v1/deployments/" + dep).statusCode()).isLessThan(300);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                PlatformProcess.json(platform.get("/api/v1/deployments/" + dep))
                    .get("status")
                    .asText()
                    .equals("deleted"));
    assertThat(
            client
                .persistentVolumeClaims()
                .inNamespace(NAMESPACE)
                .withLabels(GANTRY)
                .list()
                .getItems())
        .isEmpty();
    assertThat(
            client.batch().v1().jobs().inNamespace(NAMESPACE).withLabels(GANTRY).list().getItems())
        .isEmpty();
    assertThat(client.secrets().inNamespace(NAMESPACE).withLabels(GANTRY).list().getItems())
        .isEmpty();
  }
}
