package dev.gantry.infra.runtime;

import java.nio.file.Path;

/**
 * A started engine.
 *
 * @param endpoint base URL the gateway sends requests to, e.g. {@code http://127.0.0.1:41234}
 * @param gpuType the GPU type taken, or null when the worker runs on a virtual slot
 * @param gpuCount GPUs taken (virtual slots for {@code sim})
 * @param healthPath path answering 2xx once the engine serves
 * @param metricsPath Prometheus metrics path, or null when the engine has none
 */
public record RunningWorker(
    String workerId,
    long pid,
    int port,
    String endpoint,
    String gpuType,
    int gpuCount,
    String healthPath,
    String metricsPath,
    Path logFile) {}
