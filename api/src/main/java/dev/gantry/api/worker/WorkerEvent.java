package dev.gantry.api.worker;

/**
 * A worker's transition, signalled to its deployment: {@code healthy}, {@code draining}, or its end
 * ({@code stopped}/{@code failed}, with {@code cause} and {@code reason}).
 */
public record WorkerEvent(int ordinal, WorkerStatus status, WorkerEndCause cause, String reason) {}
