package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.model.ModelException;
import dev.gantry.infra.model.ModelPreparation.Prepared;
import dev.gantry.infra.model.ModelRequest;
import dev.gantry.infra.model.ProgressListener;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@EnableKubernetesMockClient(crud = true)
@Timeout(60)
class KubernetesModelPreparationTest {
  static final String DEPLOYMENT = "dep_abc123";
  static final String JOB = "gantry-download-dep-abc123";
  static final String TOKEN = "hf_secret_download_token";

  KubernetesMockServer server;
  KubernetesClient client;
  KubernetesModelPreparation preparation;
  final java.util.concurrent.atomic.AtomicInteger pods =
      new java.util.concurrent.atomic.AtomicInteger();

  @BeforeEach
  void setUp() {
    preparation =
        new KubernetesModelPreparation(
            client,
            TestSettings.bind(
                Map.of("runtime.kubernetes.gantry-image", "registry.example/gantry:1.2")),
            Duration.ofMillis(100));
  }

  /*
   * The preparation's informers are not closed here: the mock server's extension shuts the server down
   * first and then closes the client, which ends them. A watch closed by the client while the mock
   * server still runs can block the mock server's event loop (its watch listener waits on its own
   * event sender), which would stall the next requests.
   */

  static ModelRequest request() {
    return new ModelRequest(
        DEPLOYMENT,
        Framework.VLLM,
        "meta-llama/Llama-3.1-8B-Instruct",
        Path.of("gantry-dep-abc123"),
        40,
        TOKEN,
        null);
  }

  CompletableFuture<Prepared> prepareAsync(ProgressListener listener) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return preparation.prepare(request(), listener);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
  }

  Job awaitJob(String notUid) {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                client.batch().v1().jobs().inNamespace(TestSettings.NAMESPACE).withName(JOB).get(),
            j -> j != null && (notUid == null || !notUid.equals(j.getMetadata().getUid())));
  }

  /** What the Job controller and the kubelet would do: a Pod for the Job, with a status. */
  String jobPod(Job job, io.fabric8.kubernetes.api.model.ContainerState state) {
    String name = JOB + "-" + pods.incrementAndGet();
    Map<String, String> labels =
        new java.util.LinkedHashMap<>(job.getSpec().getTemplate().getMetadata().getLabels());
    labels.put(KubernetesModelPreparation.CONTROLLER_UID, job.getMetadata().getUid());
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withLabels(labels)
            .endMetadata()
            .withSpec(job.getSpec().getTemplate().getSpec())
            .build();
    client.pods().inNamespace(TestSettings.NAMESPACE).resource(pod).create();
    client
        .pods()
        .inNamespace(TestSettings.NAMESPACE)
        .withName(name)
        .editStatus(
            p -> {
              p.setStatus(
                  new PodStatusBuilder()
                      .withPhase("Running")
                      .withContainerStatuses(
                          new ContainerStatusBuilder()
                              .withName(KubernetesModelPreparation.CONTAINER)
                              .withImage("registry.example/gantry:1.2")
                              .withState(state)
                              .build())
                      .build());
              return p;
            });
    return name;
  }

  void jobCondition(String type, String reason) {
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(TestSettings.NAMESPACE)
        .withName(JOB)
        .editStatus(
            j -> {
              j.setStatus(
                  new JobStatusBuilder()
                      .withConditions(
                          new JobConditionBuilder()
                              .withType(type)
                              .withStatus("True")
                              .withReason(reason)
                              .build())
                      .build());
              return j;
            });
  }

  static io.fabric8.kubernetes.api.model.ContainerState terminated(int code, String message) {
    return new ContainerStateBuilder()
        .withNewTerminated()
        .withExitCode(code)
        .withReason(code == 0 ? "Completed" : "Error")
        .withMessage(message)
        .endTerminated()
        .build();
  }

  static io.fabric8.kubernetes.api.model.ContainerState running() {
    return new ContainerStateBuilder().withNewRunning().endRunning().build();
  }

  @Test
  void theJobRunsGantrysDownloadOnTheClaimWithTheTokenByReference() {
    prepareAsync(ProgressListener.NONE);
    Job job = awaitJob(null);

    assertThat(job.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "gantry")
        .containsEntry("gantry.dev/deployment-id", DEPLOYMENT)
        .containsEntry("gantry.dev/component", "model-download");
    assertThat(job.getSpec().getBackoffLimit()).isZero();
    assertThat(job.getSpec().getActiveDeadlineSeconds()).isEqualTo(6 * 3600L);
    var pod = job.getSpec().getTemplate().getSpec();
    assertThat(pod.getAutomountServiceAccountToken()).isFalse();
    assertThat(pod.getRestartPolicy()).isEqualTo("Never");
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getVolumes())
        .anySatisfy(
            v -> {
              assertThat(v.getPersistentVolumeClaim().getClaimName())
                  .isEqualTo("gantry-dep-abc123");
              assertThat(v.getPersistentVolumeClaim().getReadOnly()).isFalse();
            });
    var container = pod.getContainers().getFirst();
    assertThat(container.getImage()).isEqualTo("registry.example/gantry:1.2");
    assertThat(container.getCommand())
        .containsSubsequence("-jar", "/opt/gantry/gantry.jar", "download")
        .contains(
            "--deployment-id=dep_abc123",
            "--framework=vllm",
            "--model=meta-llama/Llama-3.1-8B-Instruct",
            "--storage=/gantry/storage",
            "--storage-gb=40",
            "--gantry.models.hf-endpoint=https://huggingface.co");
    assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(container.getEnv())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("HF_TOKEN");
              assertThat(e.getValue()).isNull();
              assertThat(e.getValueFrom().getSecretKeyRef().getName())
                  .isEqualTo("gantry-dl-dep-abc123");
            });
    assertThat(Serialization.asYaml(job)).doesNotContain(TOKEN);
    var secret =
        client.secrets().inNamespace(TestSettings.NAMESPACE).withName("gantry-dl-dep-abc123").get();
    assertThat(
            new String(
                Base64.getDecoder().decode(secret.getData().get("HF_TOKEN")),
                StandardCharsets.UTF_8))
        .isEqualTo(TOKEN);
  }

  @Test
  void aCompleteJobGivesTheModelWithTheProgressItPrinted() {
    List<long[]> progress = new CopyOnWriteArrayList<>();
    var prepared = prepareAsync((done, total) -> progress.add(new long[] {done, total}));
    Job job = awaitJob(null);
    String pod = jobPod(job, running());
    server
        .expect()
        .get()
        .withPath(
            "/api/v1/namespaces/"
                + TestSettings.NAMESPACE
                + "/pods/"
                + pod
                + "/log?pretty=false&tailLines=20")
        .andReturn(200, "INFO listing\nGANTRY_PROGRESS 100 400\nGANTRY_PROGRESS 250 400\n")
        .always();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !progress.isEmpty());
    assertThat(progress.getLast()).containsExactly(250, 400);

    client
        .pods()
        .inNamespace(TestSettings.NAMESPACE)
        .withName(pod)
        .editStatus(
            p -> {
              p.getStatus()
                  .getContainerStatuses()
                  .getFirst()
                  .setState(
                      terminated(0, "{\"status\":\"ok\",\"bytes\":400,\"revision\":\"abc\"}"));
              return p;
            });
    jobCondition("Complete", null);

    var result = prepared.join();
    assertThat(result.bytes()).isEqualTo(400);
    assertThat(result.revision()).isEqualTo("abc");
    assertThat(result.modelDir()).isEqualTo(Path.of("/gantry/storage/model"));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "MODEL_ACCESS_DENIED|meta-llama/Llama-3.1-8B-Instruct is gated or private: add an HF_TOKEN with access to it in the deployment's env",
        "MODEL_NOT_FOUND|model not found: meta-llama/Llama-3.1-8B-Instruct at revision main",
        "STORAGE_FULL|the model needs 16.1 GB but the deployment's storage_gb is 10",
        "TRANSIENT|the model endpoint answered HTTP 503 for config.json"
      })
  void aFailedDownloadKeepsTheLocalRuntimesReason(FailureType type, String message) {
    var prepared = prepareAsync(ProgressListener.NONE);
    Job job = awaitJob(null);
    jobPod(
        job,
        terminated(
            1,
            "{\"status\":\"failed\",\"type\":\""
                + type.name()
                + "\",\"message\":\""
                + message
                + "\"}"));
    jobCondition("Failed", "BackoffLimitExceeded");

    assertThatThrownBy(prepared::join)
        .cause()
        .isInstanceOfSatisfying(
            ModelException.class,
            e -> {
              assertThat(e.type()).isEqualTo(type);
              assertThat(e.getMessage()).isEqualTo(message);
            });
  }

  @Test
  void anImagePullErrorFailsTheDownloadAndRemovesTheJob() {
    var prepared = prepareAsync(ProgressListener.NONE);
    Job job = awaitJob(null);
    jobPod(
        job,
        new ContainerStateBuilder()
            .withNewWaiting()
            .withReason("ImagePullBackOff")
            .withMessage("Back-off pulling image \"registry.example/gantry:1.2\"")
            .endWaiting()
            .build());

    assertThatThrownBy(prepared::join)
        .cause()
        .isInstanceOfSatisfying(
            ModelException.class,
            e -> {
              assertThat(e.type()).isEqualTo(FailureType.ENGINE_NOT_FOUND);
              assertThat(e.permanent()).isTrue();
              assertThat(e.getMessage())
                  .contains("cannot pull the Gantry image registry.example/gantry:1.2")
                  .contains("ImagePullBackOff");
            });
    assertThat(client.batch().v1().jobs().inNamespace(TestSettings.NAMESPACE).withName(JOB).get())
        .isNull();
  }

  @Test
  void aRetriedAttemptFollowsTheRunningJobInsteadOfStartingAnother() {
    var first = prepareAsync(ProgressListener.NONE);
    Job job = awaitJob(null);
    String uid = job.getMetadata().getUid();

    var retried = prepareAsync(ProgressListener.NONE);
    String pod = jobPod(job, terminated(0, "{\"status\":\"ok\",\"bytes\":7,\"revision\":null}"));
    jobCondition("Complete", null);

    assertThat(retried.join().bytes()).isEqualTo(7);
    assertThat(first.join().bytes()).isEqualTo(7);
    var jobs = client.batch().v1().jobs().inNamespace(TestSettings.NAMESPACE).list().getItems();
    assertThat(jobs).hasSize(1);
    assertThat(jobs.getFirst().getMetadata().getUid()).isEqualTo(uid);
    assertThat(pod).isNotNull();
  }

  @Test
  void aRetryAfterAFailedJobStartsAFreshOne() {
    var first = prepareAsync(ProgressListener.NONE);
    Job failed = awaitJob(null);
    jobPod(
        failed,
        terminated(1, "{\"status\":\"failed\",\"type\":\"TRANSIENT\",\"message\":\"reset\"}"));
    jobCondition("Failed", "BackoffLimitExceeded");
    assertThatThrownBy(first::join).hasCauseInstanceOf(ModelException.class);

    var retried = prepareAsync(ProgressListener.NONE);
    Job fresh = awaitJob(failed.getMetadata().getUid());
    jobPod(fresh, terminated(0, "{\"status\":\"ok\",\"bytes\":9,\"revision\":\"r\"}"));
    jobCondition("Complete", null);

    assertThat(retried.join().bytes()).isEqualTo(9);
  }
}
