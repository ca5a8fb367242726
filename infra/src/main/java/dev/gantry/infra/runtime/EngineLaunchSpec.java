package dev.gantry.infra.runtime;

import java.util.List;
import java.util.Map;

/**
 * How to start one engine: an argument vector handed to the OS as is (never through a shell, so a
 * framework argument cannot inject a command) and the platform's part of the engine's environment,
 * which the local runtime builds from nothing ({@link EngineSandbox#environment}).
 *
 * @param command the program and its arguments
 * @param env variables the platform sets for the engine; they win over the deployment's own env
 * @param healthPath path answering 2xx once the engine serves
 * @param metricsPath Prometheus metrics path, or null when the engine has none
 */
public record EngineLaunchSpec(
    List<String> command, Map<String, String> env, String healthPath, String metricsPath) {

  public EngineLaunchSpec {
    command = List.copyOf(command);
    env = Map.copyOf(env);
  }
}
