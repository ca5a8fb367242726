package dev.gantry.infra.db;

import dev.gantry.api.worker.WorkerStatus;
import java.time.Instant;

/**
 * One row of {@code workers}.
 *
 * @param decidedAt when its deployment decided to start it (its workflow started); null for workers
 *     recorded before cold starts were
 * @param processStartedAt when the runtime had started its engine process
 * @param firstRoutedAt when a gateway first handed it a request
 */
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
    Instant stoppedAt,
    Instant decidedAt,
    Instant processStartedAt,
    Instant firstRoutedAt) {}
