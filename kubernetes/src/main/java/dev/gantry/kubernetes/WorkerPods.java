package dev.gantry.kubernetes;

import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.runtime.EngineLaunchSpec;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.SeccompProfile;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The desired state of a worker's Pod, built from the deployment's engine spec and the runtime's
 * settings. The engine's command comes from {@link
 * dev.gantry.infra.runtime.EngineLaunchSpecs#engine}, the same one the local runtime runs.
 */
final class WorkerPods {
  static final String GPU_RESOURCE = "nvidia.com/gpu";
  static final String ENGINE_CONTAINER = "engine";
  private static final String STORAGE_VOLUME = "storage";
  private static final String SCRATCH_VOLUME = "scratch";

  /** Writable for the engine (its home, caches): the image's own file system may not be. */
  private static final String SCRATCH_MOUNT = "/tmp";

  private final GantryProperties.Kubernetes settings;
  private final long terminationGraceSeconds;

  WorkerPods(GantryProperties properties) {
    this.settings = properties.runtime().kubernetes();
    this.terminationGraceSeconds =
        Math.max(1, properties.runtime().local().stopGrace().toSeconds());
  }

  String image(Framework framework) {
    var images = settings.images();
    return switch (framework) {
      case VLLM -> images.vllm();
      case SGLANG -> images.sglang();
      case OLLAMA -> images.ollama();
      case SIM -> images.sim();
    };
  }

  /** What the engine runs: the shared launch spec, bound to every address of its Pod. */
  EngineLaunchSpec spec(WorkerLaunchRequest request) {
    return dev.gantry.infra.runtime.EngineLaunchSpecs.engine(
        request, "0.0.0.0", settings.enginePort(), settings.simCommand());
  }

  /**
   * @param gpuType the GPU type to select nodes by, or null for a worker without GPUs
   * @param secretKeys the deployment's env names held in its engine Secret; each becomes a {@code
   *     secretKeyRef}, so no value is ever written into the Pod
   */
  Pod desired(
      WorkerLaunchRequest request, EngineLaunchSpec spec, String gpuType, Set<String> secretKeys) {
    String workerId = request.workerId();
    Map<String, String> labels =
        KubernetesNames.workerLabels(request.deploymentId(), request.workerId());
    if (gpuType != null) {
      labels.put(KubernetesNames.GPU_TYPE, gpuType);
    }
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(KubernetesNames.HEALTH_PATH, spec.healthPath());
    annotations.put(KubernetesNames.ENGINE_PORT, Integer.toString(settings.enginePort()));
    if (spec.metricsPath() != null) {
      annotations.put(KubernetesNames.METRICS_PATH, spec.metricsPath());
    }

    Map<String, Quantity> limits = new LinkedHashMap<>();
    String memory =
        request.framework() == Framework.SIM ? settings.simMemoryLimit() : settings.memoryLimit();
    limits.put("memory", new Quantity(memory));
    limits.put("ephemeral-storage", new Quantity(settings.ephemeralStorageLimit()));
    boolean gpus = gpuType != null;
    if (gpus) {
      limits.put(GPU_RESOURCE, new Quantity(Integer.toString(request.gpu().count())));
    }

    var container =
        new ContainerBuilder()
            .withName(ENGINE_CONTAINER)
            .withImage(image(request.framework()))
            .withCommand(spec.command())
            .withEnv(env(request.deploymentId(), spec, secretKeys))
            .addNewPort()
            .withName("http")
            .withContainerPort(settings.enginePort())
            .endPort()
            .withNewReadinessProbe()
            .withNewHttpGet()
            .withPath(spec.healthPath())
            .withPort(new IntOrString(settings.enginePort()))
            .endHttpGet()
            .withPeriodSeconds(5)
            .withTimeoutSeconds(5)
            .withFailureThreshold(3)
            .endReadinessProbe()
            .withResources(
                new ResourceRequirementsBuilder()
                    .withLimits(limits)
                    .withRequests(new LinkedHashMap<>(limits))
                    .build())
            .withSecurityContext(containerSecurity(settings.runAsUser()))
            .withVolumeMounts(
                new VolumeMountBuilder()
                    .withName(STORAGE_VOLUME)
                    .withMountPath(KubernetesNames.STORAGE_MOUNT)
                    .withReadOnly(true)
                    .build(),
                new VolumeMountBuilder()
                    .withName(SCRATCH_VOLUME)
                    .withMountPath(SCRATCH_MOUNT)
                    .build())
            .withTerminationMessagePolicy("FallbackToLogsOnError")
            .build();

    var spec2 =
        new PodBuilder()
            .withNewMetadata()
            .withName(KubernetesNames.podName(workerId))
            .withLabels(labels)
            .withAnnotations(annotations)
            .endMetadata()
            .withNewSpec()
            // An engine that dies ends the worker, as on the local runtime: the deployment
            // replaces it with backoff, and the failure is shown rather than restarted away.
            .withRestartPolicy("Never")
            .withAutomountServiceAccountToken(false)
            .withEnableServiceLinks(false)
            .withTerminationGracePeriodSeconds(terminationGraceSeconds)
            .withSecurityContext(podSecurity(settings.runAsUser()))
            .withContainers(container)
            .withVolumes(
                new VolumeBuilder()
                    .withName(STORAGE_VOLUME)
                    .withNewPersistentVolumeClaim(
                        KubernetesNames.claimName(request.deploymentId()), true)
                    .build(),
                new VolumeBuilder()
                    .withName(SCRATCH_VOLUME)
                    .withNewEmptyDir()
                    .withSizeLimit(new Quantity(settings.ephemeralStorageLimit()))
                    .endEmptyDir()
                    .build())
            .endSpec();
    if (gpus) {
      spec2
          .editSpec()
          .withNodeSelector(Map.of(settings.gpuNodeLabel(), gpuType))
          // GPU nodes are commonly tainted so that only Pods asking for GPUs land there.
          .withTolerations(
              new TolerationBuilder()
                  .withKey(GPU_RESOURCE)
                  .withOperator("Exists")
                  .withEffect("NoSchedule")
                  .build())
          .endSpec();
    }
    return spec2.build();
  }

  /** The platform's variables as values (they are not secret), the deployment's by reference. */
  private static List<EnvVar> env(
      String deploymentId, EngineLaunchSpec spec, Set<String> secretKeys) {
    List<EnvVar> env = new ArrayList<>();
    Map<String, String> platform = new LinkedHashMap<>(spec.env());
    platform.putIfAbsent("HOME", SCRATCH_MOUNT);
    for (var entry : new java.util.TreeMap<>(platform).entrySet()) {
      env.add(new EnvVar(entry.getKey(), entry.getValue(), null));
    }
    String secret = KubernetesNames.engineSecretName(deploymentId);
    for (String key : new TreeSet<>(secretKeys)) {
      if (platform.containsKey(key)) {
        // The platform's own variables win, as on the local runtime.
        continue;
      }
      env.add(
          new EnvVarBuilder()
              .withName(key)
              .withNewValueFrom()
              .withNewSecretKeyRef(key, secret, false)
              .endValueFrom()
              .build());
    }
    return env;
  }

  static io.fabric8.kubernetes.api.model.PodSecurityContext podSecurity(long uid) {
    return new PodSecurityContextBuilder()
        .withRunAsNonRoot(true)
        .withRunAsUser(uid)
        .withRunAsGroup(uid)
        .withFsGroup(uid)
        .withSeccompProfile(new SeccompProfile(null, "RuntimeDefault"))
        .build();
  }

  static SecurityContext containerSecurity(long uid) {
    return new SecurityContextBuilder()
        .withRunAsNonRoot(true)
        .withRunAsUser(uid)
        .withAllowPrivilegeEscalation(false)
        .withPrivileged(false)
        .withCapabilities(new Capabilities(null, List.of("ALL")))
        .withSeccompProfile(new SeccompProfile(null, "RuntimeDefault"))
        .build();
  }
}
