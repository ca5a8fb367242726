package dev.gantry.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.model.ModelException;
import dev.gantry.infra.model.ModelPreparation;
import dev.gantry.infra.model.ModelPreparer;
import dev.gantry.infra.model.ModelRequest;
import dev.gantry.infra.model.ProgressListener;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.ScalableResource;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the model into the deployment's claim with a Kubernetes Job that runs Gantry's own download
 * code ({@link DownloadCommand}) next to the claim. The activity follows the Job through an
 * informer, reports the progress the Job prints, and turns its outcome (the termination message of
 * its Pod) into the same reasons as the local runtime. A retried activity finds the Job an earlier
 * attempt started (or finished) instead of starting a second one.
 */
public class KubernetesModelPreparation implements ModelPreparation, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubernetesModelPreparation.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String CONTAINER = "download";
  static final String CONTROLLER_UID = "batch.kubernetes.io/controller-uid";
  private static final Set<String> IMAGE_PULL =
      Set.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull");
  private static final int PROGRESS_LINES = 20;
  private static final Duration DELETE_WAIT = Duration.ofSeconds(60);

  private final KubernetesClient client;
  private final String namespace;
  private final GantryProperties.Kubernetes settings;
  private final GantryProperties.Models models;
  private final KubernetesSecrets secrets;
  private final Duration tick;
  private final Watched<Job> jobs;
  private final Watched<Pod> pods;

  public KubernetesModelPreparation(KubernetesClient client, GantryProperties properties) {
    this(client, properties, Duration.ofSeconds(2));
  }

  /**
   * @param tick how often progress is read from the Job's log while it runs
   */
  KubernetesModelPreparation(KubernetesClient client, GantryProperties properties, Duration tick) {
    this.client = client;
    this.settings = properties.runtime().kubernetes();
    this.models = properties.models();
    this.namespace = KubernetesWorkerRuntime.namespaceOf(client, settings);
    this.secrets = new KubernetesSecrets(client, namespace);
    this.tick = tick;
    Map<String, String> selector =
        Map.of(
            KubernetesNames.MANAGED_BY, KubernetesNames.GANTRY,
            KubernetesNames.COMPONENT, KubernetesNames.DOWNLOAD);
    this.jobs =
        new Watched<>(
            () -> client.batch().v1().jobs().inNamespace(namespace).withLabels(selector),
            name -> job(name).get(),
            null,
            Duration.ofMinutes(5));
    this.pods =
        new Watched<>(
            () -> client.pods().inNamespace(namespace).withLabels(selector),
            name -> client.pods().inNamespace(namespace).withName(name).get(),
            null,
            Duration.ofMinutes(5));
  }

  @Override
  public Prepared prepare(ModelRequest request, ProgressListener listener) throws IOException {
    String name = KubernetesNames.jobName(request.deploymentId());
    Job job = job(name).get();
    if (job != null && failed(job).isPresent()) {
      // An earlier attempt's Job failed; this attempt is the workflow's retry of it.
      log.info("model download Job {} failed before; starting it again", name);
      deleteJob(name);
      job = null;
    }
    if (job == null) {
      downloadSecret(request);
      job = create(desired(request));
    } else {
      log.info("model download Job {} exists; following it instead of starting another", name);
    }
    return follow(request, name, listener);
  }

  private Prepared follow(ModelRequest request, String name, ProgressListener listener)
      throws IOException {
    while (true) {
      Job job;
      try {
        job = jobs.await(name, j -> j == null || finished(j), tick);
      } catch (TimeoutException e) {
        job = Objects.requireNonNullElseGet(jobs.cached(namespace, name), () -> job(name).get());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ModelException(FailureType.TRANSIENT, "interrupted while following the download");
      }
      if (job == null) {
        throw new ModelException(
            FailureType.TRANSIENT, "the model download Job was deleted while it ran");
      }
      Optional<Pod> pod = podOf(job);
      if (succeeded(job)) {
        return result(request, pod.orElse(null));
      }
      Optional<JobCondition> failed = failed(job);
      if (failed.isPresent()) {
        throw failure(failed.get(), pod.orElse(null));
      }
      Optional<ModelException> stuck = pod.flatMap(this::podFailure);
      if (stuck.isPresent()) {
        deleteJob(name);
        throw stuck.get();
      }
      Optional<long[]> progress = pod.flatMap(this::progress);
      if (progress.isPresent()) {
        listener.progress(progress.get()[0], progress.get()[1]);
      } else {
        listener.waiting();
      }
    }
  }

  private Prepared result(ModelRequest request, Pod pod) {
    Path modelDir =
        ModelPreparer.modelDirOf(request.framework(), Path.of(KubernetesNames.STORAGE_MOUNT));
    JsonNode outcome = outcome(pod);
    long bytes = outcome == null ? 0 : outcome.path("bytes").asLong();
    String revision =
        outcome == null || outcome.path("revision").isNull()
            ? null
            : outcome.path("revision").asText(null);
    log.info(
        "model {} of deployment {} is complete in its claim: {} bytes",
        request.model(),
        request.deploymentId(),
        bytes);
    return new Prepared(modelDir, bytes, revision);
  }

  /** The Job failed: the download's own reason when it gave one, else Kubernetes'. */
  private ModelException failure(JobCondition failed, Pod pod) {
    JsonNode outcome = outcome(pod);
    if (outcome != null && "failed".equals(outcome.path("status").asText())) {
      FailureType type;
      try {
        type = FailureType.valueOf(outcome.path("type").asText());
      } catch (IllegalArgumentException e) {
        type = FailureType.TRANSIENT;
      }
      return new ModelException(type, outcome.path("message").asText());
    }
    var terminated = terminated(pod);
    if (terminated != null && "OOMKilled".equals(terminated.getReason())) {
      return new ModelException(
          FailureType.TRANSIENT,
          "the model download ran out of memory (Kubernetes: OOMKilled); raise"
              + " gantry.runtime.kubernetes.download-memory-limit");
    }
    if ("DeadlineExceeded".equals(failed.getReason())) {
      return new ModelException(
          FailureType.TRANSIENT,
          "the model download did not finish within %d s (gantry.runtime.kubernetes.download-timeout)"
              .formatted(settings.downloadTimeout().toSeconds()));
    }
    return new ModelException(
        FailureType.TRANSIENT,
        "the model download Job failed (Kubernetes: %s%s)"
            .formatted(
                Objects.requireNonNullElse(failed.getReason(), "Failed"),
                failed.getMessage() == null ? "" : ": " + failed.getMessage()));
  }

  /** A download Pod that cannot run at all: the Job would wait on it until its deadline. */
  private Optional<ModelException> podFailure(Pod pod) {
    for (ContainerStatus status : containerStatuses(pod)) {
      var waiting = status.getState() == null ? null : status.getState().getWaiting();
      if (waiting != null && IMAGE_PULL.contains(waiting.getReason())) {
        return Optional.of(
            new ModelException(
                FailureType.ENGINE_NOT_FOUND,
                "Kubernetes cannot pull the Gantry image %s for the model download (%s: %s); check gantry.runtime.kubernetes.gantry-image and the registry's credentials"
                    .formatted(
                        status.getImage(),
                        waiting.getReason(),
                        Objects.requireNonNullElse(waiting.getMessage(), ""))));
      }
      if (waiting != null && "CreateContainerConfigError".equals(waiting.getReason())) {
        return Optional.of(
            new ModelException(
                FailureType.TRANSIENT,
                "Kubernetes cannot start the model download (CreateContainerConfigError: %s)"
                    .formatted(Objects.requireNonNullElse(waiting.getMessage(), ""))));
      }
    }
    return Optional.empty();
  }

  /** The last progress line of the Job's log: bytes done and total. */
  private Optional<long[]> progress(Pod pod) {
    String log;
    try {
      log =
          client
              .pods()
              .inNamespace(namespace)
              .withName(pod.getMetadata().getName())
              .tailingLines(PROGRESS_LINES)
              .getLog();
    } catch (KubernetesClientException e) {
      // Not started yet, or the API is busy: the next tick reads it.
      return Optional.empty();
    }
    if (log == null) {
      return Optional.empty();
    }
    String[] lines = log.split("\n");
    for (int i = lines.length - 1; i >= 0; i--) {
      String[] parts = lines[i].strip().split(" ");
      if (parts.length == 3 && parts[0].equals(DownloadCommand.PROGRESS)) {
        try {
          return Optional.of(new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])});
        } catch (NumberFormatException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  /** The newest Pod the Job created. */
  private Optional<Pod> podOf(Job job) {
    String uid = job.getMetadata().getUid();
    return pods.cachedList().stream()
        .filter(p -> p.getMetadata().getLabels() != null)
        .filter(p -> uid != null && uid.equals(p.getMetadata().getLabels().get(CONTROLLER_UID)))
        .max(
            Comparator.comparing(
                p -> Objects.requireNonNullElse(p.getMetadata().getCreationTimestamp(), "")));
  }

  private static JsonNode outcome(Pod pod) {
    var terminated = terminated(pod);
    if (terminated == null || terminated.getMessage() == null) {
      return null;
    }
    try {
      return JSON.readTree(terminated.getMessage());
    } catch (IOException e) {
      return null;
    }
  }

  private static ContainerStateTerminated terminated(Pod pod) {
    for (ContainerStatus status : containerStatuses(pod)) {
      if (status.getState() != null && status.getState().getTerminated() != null) {
        return status.getState().getTerminated();
      }
    }
    return null;
  }

  private static List<ContainerStatus> containerStatuses(Pod pod) {
    return pod == null || pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null
        ? List.of()
        : pod.getStatus().getContainerStatuses();
  }

  private static boolean finished(Job job) {
    return succeeded(job) || failed(job).isPresent();
  }

  private static boolean succeeded(Job job) {
    return condition(job, "Complete").isPresent();
  }

  private static Optional<JobCondition> failed(Job job) {
    return condition(job, "Failed");
  }

  private static Optional<JobCondition> condition(Job job, String type) {
    if (job.getStatus() == null || job.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return job.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus()))
        .findFirst();
  }

  /** The token and endpoint the download needs, and nothing else of the deployment's env. */
  private void downloadSecret(ModelRequest request) {
    Map<String, String> values = new LinkedHashMap<>();
    if (request.hfToken() != null && !request.hfToken().isBlank()) {
      values.put("HF_TOKEN", request.hfToken());
    }
    if (request.hfEndpoint() != null && !request.hfEndpoint().isBlank()) {
      values.put("HF_ENDPOINT", request.hfEndpoint());
    }
    secrets.put(
        KubernetesNames.downloadSecretName(request.deploymentId()),
        KubernetesNames.labels(request.deploymentId(), KubernetesNames.DOWNLOAD_ENV),
        values);
  }

  Job desired(ModelRequest request) {
    String deploymentId = request.deploymentId();
    Map<String, String> labels = KubernetesNames.labels(deploymentId, KubernetesNames.DOWNLOAD);
    List<String> command = new ArrayList<>(List.of("java", "-XX:MaxRAMPercentage=75", "-jar"));
    command.addAll(
        List.of(
            "/opt/gantry/gantry.jar",
            "download",
            "--deployment-id=" + deploymentId,
            "--framework=" + request.framework().wireName(),
            "--model=" + request.model(),
            "--storage=" + KubernetesNames.STORAGE_MOUNT,
            "--storage-gb=" + request.storageGb()));
    command.addAll(modelSettings());
    String secret = KubernetesNames.downloadSecretName(deploymentId);
    List<EnvVar> env = new ArrayList<>();
    env.add(new EnvVar("HOME", "/tmp", null));
    for (String key : List.of("HF_TOKEN", "HF_ENDPOINT")) {
      env.add(
          new EnvVarBuilder()
              .withName(key)
              .withNewValueFrom()
              .withNewSecretKeyRef(key, secret, true)
              .endValueFrom()
              .build());
    }
    Map<String, Quantity> limits = new LinkedHashMap<>();
    limits.put("memory", new Quantity(settings.downloadMemoryLimit()));
    limits.put("ephemeral-storage", new Quantity(settings.ephemeralStorageLimit()));
    var container =
        new ContainerBuilder()
            .withName(CONTAINER)
            .withImage(settings.gantryImage())
            .withCommand(command)
            .withEnv(env)
            .withNewResources()
            .withLimits(limits)
            .withRequests(new LinkedHashMap<>(limits))
            .endResources()
            .withSecurityContext(WorkerPods.containerSecurity(settings.runAsUser()))
            .withVolumeMounts(
                new VolumeMountBuilder()
                    .withName("storage")
                    .withMountPath(KubernetesNames.STORAGE_MOUNT)
                    .build(),
                new VolumeMountBuilder().withName("scratch").withMountPath("/tmp").build())
            .withTerminationMessagePolicy("File")
            .build();
    return new JobBuilder()
        .withNewMetadata()
        .withName(KubernetesNames.jobName(deploymentId))
        .withNamespace(namespace)
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        // Retries are the workflow's, with backoff and a reason shown between attempts.
        .withBackoffLimit(0)
        .withActiveDeadlineSeconds(settings.downloadTimeout().toSeconds())
        .withNewTemplate()
        .withNewMetadata()
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        .withAutomountServiceAccountToken(false)
        .withEnableServiceLinks(false)
        .withSecurityContext(WorkerPods.podSecurity(settings.runAsUser()))
        .withContainers(container)
        .withVolumes(
            new VolumeBuilder()
                .withName("storage")
                .withNewPersistentVolumeClaim(KubernetesNames.claimName(deploymentId), false)
                .build(),
            new VolumeBuilder()
                .withName("scratch")
                .withNewEmptyDir()
                .withSizeLimit(new Quantity(settings.ephemeralStorageLimit()))
                .endEmptyDir()
                .build())
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  /** The platform's model settings, so the Job downloads under the same rules as this process. */
  private List<String> modelSettings() {
    Map<String, String> values = new LinkedHashMap<>();
    values.put("hf-endpoint", models.hfEndpoint());
    values.put("ollama-registry", models.ollamaRegistry());
    values.put("parallel-downloads", Integer.toString(models.parallelDownloads()));
    values.put("connect-timeout", models.connectTimeout().toString());
    values.put("stall-timeout", models.stallTimeout().toString());
    values.put("file-retries", Integer.toString(models.fileRetries()));
    values.put("progress-interval", models.progressInterval().toString());
    values.put("min-free-disk-bytes", Long.toString(models.minFreeDiskBytes()));
    if (!models.allowedEndpoints().isEmpty()) {
      values.put("allowed-endpoints", String.join(",", models.allowedEndpoints()));
    }
    values.put("allow-private-addresses", Boolean.toString(models.allowPrivateAddresses()));
    values.put("min-bytes-per-second", Long.toString(models.minBytesPerSecond()));
    values.put("rate-window", models.rateWindow().toString());
    values.put("max-listing-files", Integer.toString(models.maxListingFiles()));
    List<String> args = new ArrayList<>();
    values.forEach((key, value) -> args.add(DownloadCommand.MODELS_PREFIX + key + "=" + value));
    return args;
  }

  private Job create(Job desired) {
    try {
      Job created = client.batch().v1().jobs().inNamespace(namespace).resource(desired).create();
      log.info("started model download Job {}", desired.getMetadata().getName());
      return created;
    } catch (KubernetesClientException e) {
      if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
        throw new ModelException(
            FailureType.TRANSIENT,
            "Kubernetes refused the model download Job: " + e.getMessage(),
            e);
      }
      return job(desired.getMetadata().getName()).get();
    }
  }

  private void deleteJob(String name) {
    job(name).withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
    try {
      jobs.await(name, Objects::isNull, DELETE_WAIT);
    } catch (TimeoutException e) {
      throw new ModelException(
          FailureType.TRANSIENT, "the earlier model download Job " + name + " is still there");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelException(FailureType.TRANSIENT, "interrupted while removing " + name);
    }
  }

  private ScalableResource<Job> job(String name) {
    return client.batch().v1().jobs().inNamespace(namespace).withName(name);
  }

  @Override
  public void close() {
    jobs.close();
    pods.close();
  }
}
