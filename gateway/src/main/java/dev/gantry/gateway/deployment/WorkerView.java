package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.api.worker.WorkerStatus;
import io.swagger.v3.oas.annotations.media.Schema;
import java.time.Duration;
import java.time.Instant;

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
      "failure_reason",
      "cold_start"
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
        String failureReason,
    @JsonProperty("cold_start") ColdStart coldStart) {

  /**
   * A worker's cold start step by step: each instant, and the time between them, null until the
   * worker got there (and for workers started before cold starts were recorded).
   */
  @JsonInclude(JsonInclude.Include.ALWAYS)
  @Schema(
      name = "ColdStart",
      description =
          "The worker's cold start: scale-up decision, engine process started, healthy, first"
              + " request routed to it; null where not reached",
      requiredProperties = {
        "decided_at",
        "process_started_at",
        "healthy_at",
        "first_routed_at",
        "provision_ms",
        "boot_ms",
        "first_request_ms",
        "total_ms"
      })
  public record ColdStart(
      @JsonProperty("decided_at")
          @Schema(
              format = "date-time",
              nullable = true,
              description = "When the deployment decided to start the worker")
          String decidedAt,
      @JsonProperty("process_started_at")
          @Schema(
              format = "date-time",
              nullable = true,
              description = "When its engine process had been started")
          String processStartedAt,
      @JsonProperty("healthy_at")
          @Schema(
              format = "date-time",
              nullable = true,
              description = "When it was recorded healthy (routable)")
          String healthyAt,
      @JsonProperty("first_routed_at")
          @Schema(
              format = "date-time",
              nullable = true,
              description = "When a gateway first handed it a request")
          String firstRoutedAt,
      @JsonProperty("provision_ms")
          @Schema(nullable = true, description = "decided_at to process_started_at")
          Long provisionMs,
      @JsonProperty("boot_ms")
          @Schema(nullable = true, description = "process_started_at to healthy_at")
          Long bootMs,
      @JsonProperty("first_request_ms")
          @Schema(nullable = true, description = "healthy_at to first_routed_at")
          Long firstRequestMs,
      @JsonProperty("total_ms")
          @Schema(nullable = true, description = "decided_at to first_routed_at")
          Long totalMs) {

    public static ColdStart of(
        Instant decided, Instant processStarted, Instant healthy, Instant firstRouted) {
      return new ColdStart(
          text(decided),
          text(processStarted),
          text(healthy),
          text(firstRouted),
          millis(decided, processStarted),
          millis(processStarted, healthy),
          millis(healthy, firstRouted),
          millis(decided, firstRouted));
    }

    private static String text(Instant instant) {
      return instant == null ? null : instant.toString();
    }

    private static Long millis(Instant from, Instant to) {
      return from == null || to == null ? null : Duration.between(from, to).toMillis();
    }
  }
}
