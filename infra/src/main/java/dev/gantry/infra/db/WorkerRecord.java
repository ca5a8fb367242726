package dev.gantry.infra.db;

import dev.gantry.api.worker.WorkerStatus;
import java.time.Instant;

/** One row of {@code workers}. */
public record WorkerRecord(
    String id,
    String deploymentId,
    WorkerStatus status,
    String gpuType,
    int gpuCount,
    String endpoint,
    int inFlight,
    String failureReason,
    Instant createdAt,
    Instant healthyAt,
    Instant stoppedAt) {}
