package dev.gantry.kubernetes;

import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.awaitility.Awaitility;

/**
 * Stands in for the scheduler and the kubelet of a cluster the mock API server does not have: it
 * writes into a Pod's status what they would.
 */
final class Kubelet {
  private final KubernetesClient client;

  Kubelet(KubernetesClient client) {
    this.client = client;
  }

  /** Waits for the Pod (a fresh one, when {@code notUid} names the previous) and returns it. */
  Pod awaitPod(String name, String notUid) {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> client.pods().inNamespace(TestSettings.NAMESPACE).withName(name).get(),
            p ->
                p != null
                    && p.getMetadata().getDeletionTimestamp() == null
                    && (notUid == null || !notUid.equals(p.getMetadata().getUid())));
  }

  void status(String name, Consumer<PodStatus> change) {
    client
        .pods()
        .inNamespace(TestSettings.NAMESPACE)
        .withName(name)
        .editStatus(
            pod -> {
              PodStatus status = pod.getStatus() == null ? new PodStatus() : pod.getStatus();
              change.accept(status);
              pod.setStatus(status);
              return pod;
            });
  }

  /** Scheduled and given an address; the engine runs but is not ready yet. */
  void running(String name, String ip) {
    status(
        name,
        s -> {
          s.setPhase("Running");
          s.setPodIP(ip);
          s.setConditions(
              new ArrayList<>(
                  List.of(
                      condition("PodScheduled", "True", null, null),
                      condition("Ready", "False", "ContainersNotReady", null))));
          s.setContainerStatuses(
              new ArrayList<>(
                  List.of(
                      container(
                          new ContainerStateBuilder().withNewRunning().endRunning().build()))));
        });
  }

  /** The readiness probe passes (true) or fails (false). */
  void ready(String name, boolean ready) {
    status(
        name,
        s ->
            s.setConditions(
                new ArrayList<>(
                    List.of(
                        condition("PodScheduled", "True", null, null),
                        ready
                            ? condition("Ready", "True", null, null)
                            : condition("Ready", "False", "ContainersNotReady", null)))));
  }

  void unschedulable(String name, String message) {
    status(
        name,
        s -> {
          s.setPhase("Pending");
          s.setConditions(
              new ArrayList<>(
                  List.of(condition("PodScheduled", "False", "Unschedulable", message))));
        });
  }

  void waiting(String name, String reason, String message) {
    status(
        name,
        s ->
            s.setContainerStatuses(
                new ArrayList<>(
                    List.of(
                        container(
                            new ContainerStateBuilder()
                                .withNewWaiting()
                                .withReason(reason)
                                .withMessage(message)
                                .endWaiting()
                                .build())))));
  }

  void terminated(String name, String reason, int exitCode) {
    status(
        name,
        s -> {
          s.setPhase("Failed");
          s.setContainerStatuses(
              new ArrayList<>(
                  List.of(
                      container(
                          new ContainerStateBuilder()
                              .withNewTerminated()
                              .withReason(reason)
                              .withExitCode(exitCode)
                              .endTerminated()
                              .build()))));
        });
  }

  void crashLooping(String name, String lastReason, int lastExit) {
    status(
        name,
        s -> {
          ContainerStatus c =
              container(
                  new ContainerStateBuilder()
                      .withNewWaiting()
                      .withReason("CrashLoopBackOff")
                      .withMessage("back-off 5m0s restarting failed container")
                      .endWaiting()
                      .build());
          c.setRestartCount(5);
          c.setLastState(
              new ContainerStateBuilder()
                  .withNewTerminated()
                  .withReason(lastReason)
                  .withExitCode(lastExit)
                  .endTerminated()
                  .build());
          s.setContainerStatuses(new ArrayList<>(List.of(c)));
        });
  }

  static PodCondition condition(String type, String status, String reason, String message) {
    return new PodConditionBuilder()
        .withType(type)
        .withStatus(status)
        .withReason(reason)
        .withMessage(message)
        .build();
  }

  private static ContainerStatus container(io.fabric8.kubernetes.api.model.ContainerState state) {
    return new ContainerStatusBuilder()
        .withName(WorkerPods.ENGINE_CONTAINER)
        .withImage("vllm/vllm-openai:latest")
        .withState(state)
        .withRestartCount(0)
        .build();
  }
}
