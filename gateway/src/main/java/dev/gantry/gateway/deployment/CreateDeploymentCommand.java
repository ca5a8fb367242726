package dev.gantry.gateway.deployment;

import dev.gantry.api.deployment.DeploymentSpec;
import java.util.Map;

/** A validated create request: the spec plus the env values, which go to the secret store. */
record CreateDeploymentCommand(DeploymentSpec spec, Map<String, String> env) {
  @Override
  public String toString() {
    // Env values must never reach a log line through this record.
    return "CreateDeploymentCommand[spec=" + spec + ", env=" + env.keySet() + "]";
  }
}
