package dev.gantry.api.worker;

/** How a worker ended: {@code stopped} or {@code failed}, why, and in words a user can act on. */
public record WorkerOutcome(WorkerStatus status, WorkerEndCause cause, String reason) {}
