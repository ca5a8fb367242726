package dev.gantry.api.worker;

/** A worker workflow's view of itself, returned by its query. */
public record WorkerState(
    String workerId,
    WorkerStatus status,
    String reason,
    String endpoint,
    WorkerSettings settings,
    long lastActiveEpochMillis) {}
