package dev.gantry.kubernetes;

import dev.gantry.api.FailureType;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads what Kubernetes says about a worker's Pod and puts the failures a user can act on into
 * words, with Kubernetes' own reason in them, so a failed worker says what to change.
 */
final class PodStates {
  private static final Set<String> IMAGE_PULL =
      Set.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull");
  private static final Set<String> CANNOT_START =
      Set.of("CreateContainerConfigError", "CreateContainerError", "RunContainerError");

  private PodStates() {}

  /**
   * Why a Pod can no longer serve.
   *
   * @param exitCode the engine's exit code, or -1 when it did not exit (or nobody saw it)
   */
  record Failure(FailureType type, int exitCode, String reason) {}

  /**
   * Why the Pod has failed, or will never serve; empty while it serves or may still start.
   *
   * @param readyBy when the Pod must have passed its readiness probe, or null for no deadline
   */
  static Optional<Failure> failure(Pod pod, Instant now, Instant readyBy) {
    if (pod == null) {
      return Optional.of(
          new Failure(FailureType.ENGINE_FAILED, -1, "the worker's Pod was deleted"));
    }
    var status = pod.getStatus();
    List<ContainerStatus> containers =
        status == null || status.getContainerStatuses() == null
            ? List.of()
            : status.getContainerStatuses();
    for (ContainerStatus container : containers) {
      var failure = containerFailure(pod, container);
      if (failure.isPresent()) {
        return failure;
      }
    }
    String phase = status == null ? null : status.getPhase();
    if ("Failed".equals(phase) || "Succeeded".equals(phase)) {
      String why =
          status.getReason() == null
              ? "the worker's Pod ended (" + phase + ")"
              : "the worker's Pod ended (Kubernetes: %s: %s)"
                  .formatted(status.getReason(), nullToEmpty(status.getMessage()));
      return Optional.of(new Failure(FailureType.ENGINE_FAILED, -1, why));
    }
    if (readyBy != null && !ready(pod) && now.isAfter(readyBy)) {
      return Optional.of(
          new Failure(
              FailureType.ENGINE_FAILED,
              -1,
              "the engine did not pass its readiness probe (GET %s on port %s) within %d s of its Pod's creation%s"
                  .formatted(
                      annotation(pod, KubernetesNames.HEALTH_PATH),
                      annotation(pod, KubernetesNames.ENGINE_PORT),
                      Duration.between(created(pod).orElse(now), readyBy).toSeconds(),
                      notReadyBecause(pod))));
    }
    return Optional.empty();
  }

  private static Optional<Failure> containerFailure(Pod pod, ContainerStatus container) {
    ContainerState state = container.getState();
    ContainerStateTerminated last =
        container.getLastState() == null ? null : container.getLastState().getTerminated();
    if (state != null && state.getWaiting() != null) {
      String reason = nullToEmpty(state.getWaiting().getReason());
      String message = nullToEmpty(state.getWaiting().getMessage());
      if (IMAGE_PULL.contains(reason)) {
        return Optional.of(
            new Failure(
                FailureType.ENGINE_NOT_FOUND,
                -1,
                "Kubernetes cannot pull the engine image %s (%s: %s); check the image name and the registry's credentials (gantry.runtime.kubernetes.images)"
                    .formatted(container.getImage(), reason, message)));
      }
      if ("CrashLoopBackOff".equals(reason)) {
        String lastExit =
            last == null
                ? ""
                : "; last exit code %d (%s)"
                    .formatted(last.getExitCode(), nullToEmpty(last.getReason()));
        String oom =
            last != null && "OOMKilled".equals(last.getReason())
                ? "; it ran out of memory: " + memoryHint(pod)
                : "";
        return Optional.of(
            new Failure(
                FailureType.ENGINE_FAILED,
                last == null || last.getExitCode() == null ? -1 : last.getExitCode(),
                "the engine keeps crashing (Kubernetes: CrashLoopBackOff after %d restarts%s)%s"
                    .formatted(
                        container.getRestartCount() == null ? 0 : container.getRestartCount(),
                        lastExit,
                        oom)));
      }
      if (CANNOT_START.contains(reason)) {
        return Optional.of(
            new Failure(
                FailureType.ENGINE_FAILED,
                -1,
                "Kubernetes cannot start the engine container (%s: %s)"
                    .formatted(reason, message)));
      }
    }
    ContainerStateTerminated terminated =
        state != null && state.getTerminated() != null ? state.getTerminated() : null;
    if (terminated == null && last != null && "OOMKilled".equals(last.getReason())) {
      // Restarted in place after running out of memory: it will again.
      terminated = last;
    }
    if (terminated != null) {
      int code = terminated.getExitCode() == null ? -1 : terminated.getExitCode();
      if ("OOMKilled".equals(terminated.getReason())) {
        return Optional.of(
            new Failure(
                FailureType.ENGINE_FAILED,
                code,
                "the engine ran out of memory (Kubernetes: OOMKilled, exit code %d): %s"
                    .formatted(code, memoryHint(pod))));
      }
      String detail = nullToEmpty(terminated.getReason());
      if (terminated.getMessage() != null && !terminated.getMessage().isBlank()) {
        detail += ": " + terminated.getMessage().strip();
      }
      return Optional.of(
          new Failure(
              FailureType.ENGINE_FAILED,
              code,
              "the engine exited with code %d (Kubernetes: %s)".formatted(code, detail)));
    }
    return Optional.empty();
  }

  private static String memoryHint(Pod pod) {
    String limit =
        pod.getSpec() == null
                || pod.getSpec().getContainers() == null
                || pod.getSpec().getContainers().isEmpty()
                || pod.getSpec().getContainers().getFirst().getResources() == null
                || pod.getSpec().getContainers().getFirst().getResources().getLimits() == null
                || pod.getSpec().getContainers().getFirst().getResources().getLimits().get("memory")
                    == null
            ? "unknown"
            : pod.getSpec()
                .getContainers()
                .getFirst()
                .getResources()
                .getLimits()
                .get("memory")
                .toString();
    return "its memory limit is "
        + limit
        + "; raise gantry.runtime.kubernetes.memory-limit (sim-memory-limit for sim), or serve a"
        + " smaller model or context";
  }

  /** The scheduler's message when no node can take the Pod; empty otherwise. */
  static Optional<String> unschedulable(Pod pod) {
    return condition(pod, "PodScheduled")
        .filter(c -> "False".equals(c.getStatus()) && "Unschedulable".equals(c.getReason()))
        .map(c -> c.getMessage() == null ? "Unschedulable" : c.getMessage());
  }

  /** Scheduled and given an address: the gateway can be told where to send requests. */
  static boolean addressed(Pod pod) {
    return pod != null
        && pod.getStatus() != null
        && pod.getStatus().getPodIP() != null
        && !pod.getStatus().getPodIP().isBlank();
  }

  static boolean ready(Pod pod) {
    return condition(pod, "Ready").map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  static boolean terminating(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() != null;
  }

  static Optional<Instant> created(Pod pod) {
    try {
      String created = pod.getMetadata().getCreationTimestamp();
      return created == null ? Optional.empty() : Optional.of(Instant.parse(created));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  private static String notReadyBecause(Pod pod) {
    return condition(pod, "Ready")
        .filter(c -> c.getReason() != null || c.getMessage() != null)
        .map(
            c ->
                " (Kubernetes: %s%s)"
                    .formatted(
                        nullToEmpty(c.getReason()),
                        c.getMessage() == null ? "" : ": " + c.getMessage()))
        .orElse("");
  }

  private static Optional<PodCondition> condition(Pod pod, String type) {
    if (pod == null || pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()))
        .findFirst();
  }

  private static String annotation(Pod pod, String key) {
    var annotations = pod.getMetadata().getAnnotations();
    return annotations == null ? "?" : annotations.getOrDefault(key, "?");
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
