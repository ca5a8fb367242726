package dev.gantry.infra.runtime;

import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a worker's engine needs. {@code env} holds resolved secret values: it lives only in memory
 * on the way to the process and is never logged ({@link #toString()} masks it).
 *
 * @param storageDir the deployment's storage directory (the model sits in it)
 * @param gpu the deployment's GPU request; null for a {@code sim} deployment without one
 * @param concurrency the requests the gateways send the worker at once (the deployment's {@code
 *     concurrency}): the engine's batch is sized to it ({@link EngineLaunchSpecs#engine}); 0 when
 *     not known, which leaves the engine's own default
 */
public record WorkerLaunchRequest(
    String deploymentId,
    String workerId,
    Framework framework,
    String model,
    Path storageDir,
    Map<String, String> env,
    List<String> frameworkArgs,
    GpuSpec gpu,
    int concurrency) {

  public WorkerLaunchRequest {
    env = env == null ? Map.of() : Map.copyOf(env);
    frameworkArgs = frameworkArgs == null ? List.of() : List.copyOf(frameworkArgs);
    concurrency = Math.max(0, concurrency);
  }

  @Override
  public String toString() {
    return "WorkerLaunchRequest[deploymentId=%s, workerId=%s, framework=%s, model=%s, env=%s]"
        .formatted(deploymentId, workerId, framework, model, env.keySet());
  }
}
