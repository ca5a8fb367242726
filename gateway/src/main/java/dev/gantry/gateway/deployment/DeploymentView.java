package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import io.swagger.v3.oas.annotations.media.Schema;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/**
 * The deployment object of docs/api.md. Env values are always masked. {@code download} is an
 * addition to the contract: the model download's progress, present only while {@code
 * downloading_model}. So are {@code max_tokens_limit} and {@code n_limit}: the request limits in
 * force (the deployment's, or the platform's defaults).
 */
@Schema(
    name = "Deployment",
    description = "A deployment, as docs/api.md \"The deployment object\" describes it",
    requiredProperties = {
      "id",
      "name",
      "status",
      "status_reason",
      "model",
      "framework",
      "gpu",
      "min_workers",
      "max_workers",
      "concurrency",
      "idle_timeout_seconds",
      "wait_time_seconds",
      "storage_gb",
      "env",
      "framework_args",
      "max_tokens_limit",
      "n_limit",
      "autoscaling",
      "workers",
      "queue",
      "accrued_cost_usd",
      "openai_base_url",
      "created_at",
      "updated_at"
    })
public record DeploymentView(
    @Schema(example = "dep_3f9k2m7q8x1c4v6b5n0p") String id,
    String name,
    @Schema(implementation = DeploymentStatus.class) String status,
    @JsonProperty("status_reason")
        @JsonInclude(JsonInclude.Include.ALWAYS)
        @Schema(
            description = "Why the deployment is in its status, in words a user can act on",
            nullable = true)
        String statusReason,
    String model,
    @Schema(implementation = Framework.class) String framework,
    @JsonInclude(JsonInclude.Include.ALWAYS) @Schema(description = "null for sim", nullable = true)
        Gpu gpu,
    @JsonProperty("min_workers") int minWorkers,
    @JsonProperty("max_workers") int maxWorkers,
    int concurrency,
    @JsonProperty("idle_timeout_seconds") int idleTimeoutSeconds,
    @JsonProperty("wait_time_seconds") int waitTimeSeconds,
    @JsonProperty("storage_gb") int storageGb,
    @Schema(
            description = "Each variable's name, with the value masked as ***",
            example = "{\"HF_TOKEN\": \"***\"}")
        Map<String, String> env,
    @JsonProperty("framework_args") List<String> frameworkArgs,
    @JsonProperty("max_tokens_limit") int maxTokensLimit,
    @JsonProperty("n_limit") int nLimit,
    Autoscaling autoscaling,
    Workers workers,
    @Schema(
            description =
                "Requests on this deployment's workers and waiting for one, as the gateway that"
                    + " answers sees them (each gateway replica has its own view)")
        Queue queue,
    @JsonProperty("accrued_cost_usd")
        @Schema(
            description =
                "Storage and GPU cost since creation, per second, rounded to 6 decimals; never"
                    + " decreases")
        BigDecimal accruedCostUsd,
    @JsonProperty("openai_base_url")
        @Schema(description = "The deployment's OpenAI-compatible base URL (see docs/api.md)")
        String openaiBaseUrl,
    @JsonProperty("created_at") @Schema(format = "date-time") String createdAt,
    @JsonProperty("updated_at") @Schema(format = "date-time") String updatedAt,
    @JsonInclude(JsonInclude.Include.NON_NULL)
        @Schema(description = "Present only while status is downloading_model")
        Download download) {

  @Schema(
      name = "DeploymentGpu",
      requiredProperties = {"type", "count", "fallback_types"})
  public record Gpu(
      String type, int count, @JsonProperty("fallback_types") List<String> fallbackTypes) {}

  /** The autoscaling settings in force, defaults filled in. */
  @Schema(
      name = "Autoscaling",
      description = "The autoscaling settings in force (docs/api.md \"Autoscaling\")",
      requiredProperties = {
        "target_utilization",
        "scale_down_delay_seconds",
        "warm_buffer",
        "queue_delay_ms"
      })
  public record Autoscaling(
      @JsonProperty("target_utilization") double targetUtilization,
      @JsonProperty("scale_down_delay_seconds")
          @JsonInclude(JsonInclude.Include.ALWAYS)
          @Schema(description = "null: as long as the recent cold start", nullable = true)
          Integer scaleDownDelaySeconds,
      @JsonProperty("warm_buffer") int warmBuffer,
      @JsonProperty("queue_delay_ms") @Schema(description = "0: off") int queueDelayMs) {}

  @Schema(
      name = "WorkerCounts",
      description =
          "Current workers: provisioning, healthy and draining ones, and all (provisioning,"
              + " healthy or draining); failed counts those that failed in the last 24 hours",
      requiredProperties = {"provisioning", "healthy", "total", "draining", "failed"})
  public record Workers(int provisioning, int healthy, int total, int draining, int failed) {}

  /** Requests this gateway has on the deployment's workers, and waiting in its queue. */
  @Schema(
      name = "QueueNow",
      description = "Requests in flight on workers and queued, as this gateway sees them now",
      requiredProperties = {"in_flight", "queued"})
  public record Queue(@JsonProperty("in_flight") int inFlight, int queued) {}

  /** Bytes of the model in storage so far and the model's total size. */
  @Schema(
      name = "DownloadProgress",
      description = "Bytes of the model in storage so far and its total size",
      requiredProperties = {"bytes_done", "bytes_total"})
  public record Download(
      @JsonProperty("bytes_done") long bytesDone, @JsonProperty("bytes_total") long bytesTotal) {}
}
