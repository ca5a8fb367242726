package dev.gantry.api.deployment;

import java.util.List;

/**
 * What a user asked for, as the control plane sees it. Secret values never appear here: {@code
 * secretRef} names the encrypted env record, and {@code envNames} lists the variable names only.
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
    List<String> frameworkArgs) {

  public DeploymentSpec {
    envNames = envNames == null ? List.of() : List.copyOf(envNames);
    frameworkArgs = frameworkArgs == null ? List.of() : List.copyOf(frameworkArgs);
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
        frameworkArgs);
  }
}
