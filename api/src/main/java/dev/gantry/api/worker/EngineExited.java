package dev.gantry.api.worker;

/**
 * A worker's engine exited on its own.
 *
 * @param exitCode the process exit code, or -1 when unknown
 * @param reason what happened, with the end of the engine's log, in words a user can act on
 */
public record EngineExited(int exitCode, String reason) {}
