package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.api.worker.WorkerStatus;
import io.swagger.v3.oas.annotations.media.Schema;

/** One worker as docs/api.md shows it. */
@JsonInclude(JsonInclude.Include.ALWAYS)
@Schema(
    name = "Worker",
    description = "A worker: one engine process of a deployment",
    requiredProperties = {
      "id",
      "status",
      "gpu_type",
      "created_at",
      "healthy_at",
      "stopped_at",
      "in_flight",
      "failure_reason"
    })
public record WorkerView(
    @Schema(example = "dep_3f9k2m7q8x1c4v6b5n0p-w3") String id,
    @Schema(implementation = WorkerStatus.class) String status,
    @JsonProperty("gpu_type") @Schema(description = "null for sim", nullable = true) String gpuType,
    @JsonProperty("created_at") @Schema(format = "date-time") String createdAt,
    @JsonProperty("healthy_at") @Schema(format = "date-time", nullable = true) String healthyAt,
    @JsonProperty("stopped_at") @Schema(format = "date-time", nullable = true) String stoppedAt,
    @JsonProperty("in_flight")
        @Schema(description = "Requests the answering gateway has on the worker now")
        int inFlight,
    @JsonProperty("failure_reason")
        @Schema(
            description = "Why the worker failed, or why the platform stopped it",
            nullable = true)
        String failureReason) {}
