package dev.gantry.api.worker;

/**
 * @param idleTimeoutSeconds how long the worker may go unused before it is reaped
 * @param keepWarm whether the worker is one of the deployment's {@code min_workers}, never reaped
 */
public record WorkerSettings(int idleTimeoutSeconds, boolean keepWarm) {}
