package dev.gantry.infra.runtime;

/**
 * How an engine ended.
 *
 * @param exitCode the process exit code, or -1 when unknown (e.g. it ended while Gantry was down)
 * @param reason a sentence a user can act on, with the exit code and the last log lines
 */
public record EngineExit(int exitCode, String reason) {}
