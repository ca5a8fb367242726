package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/** One worker as docs/api.md shows it. */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record WorkerView(
    String id,
    String status,
    @JsonProperty("gpu_type") String gpuType,
    @JsonProperty("created_at") String createdAt,
    @JsonProperty("healthy_at") String healthyAt,
    @JsonProperty("stopped_at") String stoppedAt,
    @JsonProperty("in_flight") int inFlight,
    @JsonProperty("failure_reason") String failureReason) {}
