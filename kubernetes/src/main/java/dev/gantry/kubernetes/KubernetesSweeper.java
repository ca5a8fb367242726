package dev.gantry.kubernetes;

import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.infra.config.GantryProperties;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backstop behind compensation on Kubernetes: deletes every Gantry-labelled Pod, Job, claim and
 * Secret whose deployment is gone (no row, or {@code failed} or {@code deleted}, whose clean-up
 * already ran), and every worker Pod whose worker has ended. Worker Pods that no running workflow
 * owns are also stopped by the app's {@code WorkerSweeper}, which asks Temporal; this one goes by
 * the database, so it also finds the objects of deployments whose workflows are long gone.
 *
 * <p>Only objects older than {@code sweep-grace} are considered: a worker's Pod exists a moment
 * before its row, and a claim a moment before its deployment's first status change.
 */
public class KubernetesSweeper implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubernetesSweeper.class);
  private static final Set<DeploymentStatus> GONE =
      Set.of(DeploymentStatus.FAILED, DeploymentStatus.DELETED);

  private final KubernetesClient client;
  private final String namespace;
  private final GantryProperties.Kubernetes settings;
  private final Function<String, Optional<DeploymentStatus>> deployments;
  private final Supplier<Set<String>> currentWorkers;
  private final Clock clock;
  private final boolean orchestrator;
  private final ScheduledExecutorService schedule =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("gantry-kubernetes-sweeper").factory());

  /**
   * @param deployments a deployment's status, empty when there is no such deployment
   * @param currentWorkers ids of the workers that are provisioning, healthy or draining
   */
  public KubernetesSweeper(
      KubernetesClient client,
      GantryProperties properties,
      Function<String, Optional<DeploymentStatus>> deployments,
      Supplier<Set<String>> currentWorkers,
      Clock clock) {
    this.client = client;
    this.settings = properties.runtime().kubernetes();
    this.namespace = KubernetesWorkerRuntime.namespaceOf(client, settings);
    this.deployments = deployments;
    this.currentWorkers = currentWorkers;
    this.clock = clock;
    this.orchestrator = properties.hasRole(GantryProperties.ROLE_ORCHESTRATOR);
  }

  /** Sweeps every {@code sweep-interval} on an orchestrator. */
  public void start() {
    if (!orchestrator) {
      return;
    }
    long every = settings.sweepInterval().toMillis();
    schedule.scheduleWithFixedDelay(
        () -> {
          try {
            sweep();
          } catch (RuntimeException e) {
            // an escaping exception would cancel the schedule for good
            log.warn("sweeping Gantry's Kubernetes objects failed", e);
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
  }

  /** Returns the names of the objects it deleted, as {@code kind/name}. */
  List<String> sweep() {
    Instant cutoff = clock.instant().minus(settings.sweepGrace());
    Map<String, String> gantry = Map.of(KubernetesNames.MANAGED_BY, KubernetesNames.GANTRY);
    Set<String> workers = currentWorkers.get();
    List<String> deleted = new ArrayList<>();
    for (var job :
        client.batch().v1().jobs().inNamespace(namespace).withLabels(gantry).list().getItems()) {
      if (old(job, cutoff) && deploymentGone(job)) {
        client
            .batch()
            .v1()
            .jobs()
            .inNamespace(namespace)
            .resource(job)
            .withPropagationPolicy(DeletionPropagation.BACKGROUND)
            .delete();
        deleted.add("job/" + job.getMetadata().getName());
      }
    }
    for (var pod : client.pods().inNamespace(namespace).withLabels(gantry).list().getItems()) {
      String workerId = label(pod, KubernetesNames.WORKER_ID);
      boolean workerEnded =
          KubernetesNames.WORKER.equals(label(pod, KubernetesNames.COMPONENT))
              && (workerId == null || !workers.contains(workerId));
      if (old(pod, cutoff) && (workerEnded || deploymentGone(pod))) {
        client.pods().inNamespace(namespace).resource(pod).delete();
        deleted.add("pod/" + pod.getMetadata().getName());
      }
    }
    for (var secret :
        client.secrets().inNamespace(namespace).withLabels(gantry).list().getItems()) {
      if (old(secret, cutoff) && deploymentGone(secret)) {
        client.secrets().inNamespace(namespace).resource(secret).delete();
        deleted.add("secret/" + secret.getMetadata().getName());
      }
    }
    for (var claim :
        client
            .persistentVolumeClaims()
            .inNamespace(namespace)
            .withLabels(gantry)
            .list()
            .getItems()) {
      if (old(claim, cutoff) && deploymentGone(claim)) {
        client.persistentVolumeClaims().inNamespace(namespace).resource(claim).delete();
        deleted.add("persistentvolumeclaim/" + claim.getMetadata().getName());
      }
    }
    if (!deleted.isEmpty()) {
      log.warn("deleted Kubernetes objects no deployment or worker owns any more: {}", deleted);
    }
    return deleted;
  }

  private boolean deploymentGone(HasMetadata object) {
    String deploymentId = label(object, KubernetesNames.DEPLOYMENT_ID);
    if (deploymentId == null) {
      // Labelled as Gantry's but by nobody Gantry knows: left for a person to look at.
      return false;
    }
    return deployments.apply(deploymentId).map(GONE::contains).orElse(true);
  }

  private static boolean old(HasMetadata object, Instant cutoff) {
    String created = object.getMetadata().getCreationTimestamp();
    try {
      return created != null && Instant.parse(created).isBefore(cutoff);
    } catch (DateTimeParseException e) {
      return false;
    }
  }

  private static String label(HasMetadata object, String key) {
    var labels = object.getMetadata().getLabels();
    return labels == null ? null : labels.get(key);
  }

  @Override
  public void close() {
    schedule.shutdownNow();
  }
}
