package dev.gantry.api.deployment;

import java.util.List;

/**
 * What a user asked for, as the control plane sees it. Secret values never appear here: {@code
 * secretRef} names the encrypted env record, and {@code envNames} lists the variable names only.
 *
 * <p>{@code maxTokensLimit} and {@code nLimit} cap what one inference request may ask for ({@code
 * max_tokens} / {@code max_completion_tokens}, and {@code n} / {@code best_of}); null means the
 * platform's default ({@code gantry.limits.*}), which is also what specs recorded before these
 * fields existed read as.
 */
public record DeploymentSpec(
    String name,
    String model,
    Framework framework,
    GpuSpec gpu,
    int minWorkers,
    int maxWorkers,
    int concurrency,
    int idleTimeoutSeconds,
    int waitTimeSeconds,
    int storageGb,
    List<String> envNames,
    List<String> frameworkArgs,
    Integer maxTokensLimit,
    Integer nLimit,
    AutoscalingSpec autoscaling) {

  public DeploymentSpec {
    autoscaling = autoscaling == null ? AutoscalingSpec.DEFAULTS : autoscaling;
    envNames = envNames == null ? List.of() : List.copyOf(envNames);
    frameworkArgs = frameworkArgs == null ? List.of() : List.copyOf(frameworkArgs);
  }

  /** A spec with the platform's default autoscaling settings. */
  public DeploymentSpec(
      String name,
      String model,
      Framework framework,
      GpuSpec gpu,
      int minWorkers,
      int maxWorkers,
      int concurrency,
      int idleTimeoutSeconds,
      int waitTimeSeconds,
      int storageGb,
      List<String> envNames,
      List<String> frameworkArgs,
      Integer maxTokensLimit,
      Integer nLimit) {
    this(
        name,
        model,
        framework,
        gpu,
        minWorkers,
        maxWorkers,
        concurrency,
        idleTimeoutSeconds,
        waitTimeSeconds,
        storageGb,
        envNames,
        frameworkArgs,
        maxTokensLimit,
        nLimit,
        null);
  }

  /** A spec with the platform's default request limits. */
  public DeploymentSpec(
      String name,
      String model,
      Framework framework,
      GpuSpec gpu,
      int minWorkers,
      int maxWorkers,
      int concurrency,
      int idleTimeoutSeconds,
      int waitTimeSeconds,
      int storageGb,
      List<String> envNames,
      List<String> frameworkArgs) {
    this(
        name,
        model,
        framework,
        gpu,
        minWorkers,
        maxWorkers,
        concurrency,
        idleTimeoutSeconds,
        waitTimeSeconds,
        storageGb,
        envNames,
        frameworkArgs,
        null,
        null);
  }

  /** The engine this spec runs, started with the deployment's env ({@code secretRef}). */
  public EngineIdentity engine(String secretRef) {
    return new EngineIdentity(framework, model, gpu, frameworkArgs, secretRef);
  }

  /** This spec with an edit applied: each field the edit gives replaces the current one. */
  public DeploymentSpec withEdit(EditRequest edit) {
    return withEdit(
        edit.name() != null ? edit.name() : name,
        edit.idleTimeoutSeconds() != null ? edit.idleTimeoutSeconds() : idleTimeoutSeconds,
        edit.waitTimeSeconds() != null ? edit.waitTimeSeconds() : waitTimeSeconds);
  }

  public DeploymentSpec withEdit(String newName, int newIdleTimeout, int newWaitTime) {
    return new DeploymentSpec(
        newName,
        model,
        framework,
        gpu,
        minWorkers,
        maxWorkers,
        concurrency,
        newIdleTimeout,
        newWaitTime,
        storageGb,
        envNames,
        frameworkArgs,
        maxTokensLimit,
        nLimit,
        autoscaling);
  }

  /** This spec with other autoscaling settings. */
  public DeploymentSpec withAutoscaling(AutoscalingSpec settings) {
    return new DeploymentSpec(
        name,
        model,
        framework,
        gpu,
        minWorkers,
        maxWorkers,
        concurrency,
        idleTimeoutSeconds,
        waitTimeSeconds,
        storageGb,
        envNames,
        frameworkArgs,
        maxTokensLimit,
        nLimit,
        settings);
  }

  /** How this deployment scales: its bounds, concurrency and autoscaling settings. */
  public dev.gantry.autoscaler.ScalingPolicy scalingPolicy() {
    return autoscaling.policy(minWorkers, maxWorkers, concurrency);
  }
}
