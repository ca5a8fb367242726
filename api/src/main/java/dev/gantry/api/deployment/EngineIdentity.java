package dev.gantry.api.deployment;

import java.util.List;

/**
 * What a deployment's engine is, as one value: the framework that runs it, the model it serves, the
 * GPUs each worker takes, the flags it starts with, and the encrypted env it starts with. The
 * deployment workflow builds it once from the spec ({@link DeploymentSpec#engine}) and hands it,
 * unchanged, to the model download, to each worker's workflow and to the worker's launch.
 *
 * @param gpu null for {@code sim}, which takes a virtual slot
 * @param secretRef names the deployment's encrypted env record; null when it has no env. A
 *     reference only: values are resolved inside the activities that need them
 */
public record EngineIdentity(
    Framework framework, String model, GpuSpec gpu, List<String> frameworkArgs, String secretRef) {

  public EngineIdentity {
    frameworkArgs = frameworkArgs == null ? List.of() : List.copyOf(frameworkArgs);
  }
}
