package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.api.deployment.Framework;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.List;
import java.util.Map;

/**
 * The request bodies of {@code /api/v1/deployments} as the OpenAPI document shows them. The
 * controller reads bodies as maps, so that {@link DeploymentRequestValidator} can name every
 * unknown or invalid field of a request at once; these records only document the fields it accepts,
 * and a test keeps both in step. Limits that are settings are given in words, with their defaults.
 */
public final class DeploymentRequests {
  private DeploymentRequests() {}

  /** {@code POST /api/v1/deployments}. */
  @Schema(
      name = "CreateDeployment",
      description =
          "A new deployment. Unknown fields (here and in gpu) are refused; every invalid field is"
              + " reported at once in one 400 problem. Numbers must be JSON integers; an optional"
              + " field given as null takes its default.")
  public record Create(
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description =
                  "1-100 characters, not blank, no control characters; surrounding whitespace is"
                      + " stripped. Need not be unique",
              maxLength = 100,
              example = "qwen-chat")
          String name,
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description =
                  "vllm, sglang: a Hugging Face repo id owner/name, optionally @revision; ollama:"
                      + " a model tag such as qwen2.5:7b; sim: 1-200 characters of letters,"
                      + " digits and ._:/@-",
              maxLength = 300,
              example = "Qwen/Qwen2.5-7B-Instruct")
          String model,
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description =
                  "The engine (matched case-insensitively); sim is the bundled simulator, which"
                      + " needs no GPU")
          Framework framework,
      @Schema(description = "Required for vllm, sglang and ollama; null for sim") Gpu gpu,
      @JsonProperty("min_workers")
          @Schema(
              description = "Workers kept running, 0 to gantry.limits.max-workers (64)",
              minimum = "0",
              defaultValue = "0")
          Integer minWorkers,
      @JsonProperty("max_workers")
          @Schema(
              description =
                  "At most this many workers, 1 to gantry.limits.max-workers (64), at least"
                      + " min_workers",
              minimum = "1",
              defaultValue = "1")
          Integer maxWorkers,
      @Schema(
              description =
                  "Requests one worker serves at once, 1 to gantry.limits.max-concurrency (1024)",
              minimum = "1",
              defaultValue = "8")
          Integer concurrency,
      @JsonProperty("idle_timeout_seconds")
          @Schema(
              description =
                  "A worker unused this long is reaped, 1 to"
                      + " gantry.limits.max-idle-timeout-seconds (86400)",
              minimum = "1",
              defaultValue = "300")
          Integer idleTimeoutSeconds,
      @JsonProperty("wait_time_seconds")
          @Schema(
              description =
                  "How long a request waits for a worker slot, 1 to"
                      + " gantry.limits.max-wait-time-seconds (3600)",
              minimum = "1",
              defaultValue = "60")
          Integer waitTimeSeconds,
      @JsonProperty("storage_gb")
          @Schema(
              description =
                  "The deployment's storage; the model must fit in it. 1 to"
                      + " gantry.limits.max-storage-gb (10000)",
              minimum = "1",
              defaultValue = "50")
          Integer storageGb,
      @Schema(
              description =
                  "At most 64 variables set in the engine's environment; names on the engine"
                      + " environment allowlist (docs/security.md), values at most 32768"
                      + " characters. Values are write-only: encrypted at rest, never returned."
                      + " HF_TOKEN unlocks gated or private models",
              example = "{\"HF_TOKEN\": \"hf_...\"}")
          Map<String, String> env,
      @JsonProperty("framework_args")
          @ArraySchema(
              arraySchema =
                  @Schema(
                      description =
                          "At most 64 engine flags, each one --flag or --flag=value token on the"
                              + " engine's allowlist (docs/security.md); --trust-remote-code"
                              + " needs an admin key; none for ollama",
                      example = "[\"--enforce-eager\", \"--max-model-len=8192\"]"),
              maxItems = 64,
              schema = @Schema(maxLength = 512))
          List<String> frameworkArgs,
      @JsonProperty("max_tokens_limit")
          @Schema(
              description =
                  "The most max_tokens / max_completion_tokens one inference request may ask for,"
                      + " 1 to gantry.limits.max-max-tokens-limit (1048576); default"
                      + " gantry.limits.default-max-tokens-limit (16384)",
              minimum = "1")
          Integer maxTokensLimit,
      @JsonProperty("n_limit")
          @Schema(
              description =
                  "The most n / best_of one inference request may ask for, 1 to"
                      + " gantry.limits.max-n-limit (128); default gantry.limits.default-n-limit"
                      + " (4)",
              minimum = "1")
          Integer nLimit,
      @Schema(
              description =
                  "How the deployment scales between min_workers and max_workers; every setting"
                      + " optional (docs/api.md \"Autoscaling\")")
          Autoscaling autoscaling) {}

  /** The autoscaling settings; each null or absent one takes its default. */
  @Schema(name = "AutoscalingRequest", description = "Autoscaling settings, each optional")
  public record Autoscaling(
      @JsonProperty("target_utilization")
          @Schema(
              description =
                  "Share of a worker's concurrency that demand is sized for and routing fills"
                      + " before it spreads to the next worker, 0.1 to 1",
              minimum = "0.1",
              maximum = "1",
              defaultValue = "1")
          Double targetUtilization,
      @JsonProperty("scale_down_delay_seconds")
          @Schema(
              description =
                  "How long the workers a demand peak needed are kept after it (0 to 3600); null"
                      + " or absent: as long as the deployment's recent cold start",
              minimum = "0",
              maximum = "3600",
              nullable = true)
          Integer scaleDownDelaySeconds,
      @JsonProperty("warm_buffer")
          @Schema(
              description =
                  "Workers kept above demand while the deployment is in use, 0 to max_workers",
              minimum = "0",
              defaultValue = "0")
          Integer warmBuffer,
      @JsonProperty("queue_delay_ms")
          @Schema(
              description =
                  "Start one more worker when a request has waited this long and none is starting;"
                      + " 0 (off) to wait_time_seconds in ms",
              minimum = "0",
              defaultValue = "0")
          Integer queueDelayMs) {}

  /** The GPUs each worker of a deployment takes. */
  @Schema(name = "GpuRequest", description = "The GPUs each worker takes")
  public record Gpu(
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description = "A type of the GPU catalog (gantry.gpu-catalog)",
              example = "H100")
          String type,
      @Schema(
              description = "GPUs per worker, 1 to gantry.limits.max-gpu-count (8)",
              minimum = "1",
              defaultValue = "1")
          Integer count,
      @JsonProperty("fallback_types")
          @ArraySchema(
              arraySchema =
                  @Schema(
                      description =
                          "Catalog types tried in order when type has no free GPU; default none"),
              maxItems = 8)
          List<String> fallbackTypes) {}

  /** {@code PATCH /api/v1/deployments/{id}}. */
  @Schema(
      name = "EditDeployment",
      description =
          "Changes a running deployment without restarting its workers. At least one field; any"
              + " other field is refused (422).",
      minProperties = 1)
  public record Edit(
      @Schema(description = "As at create", maxLength = 100) String name,
      @JsonProperty("idle_timeout_seconds")
          @Schema(description = "As at create; re-arms running workers' idle timers", minimum = "1")
          Integer idleTimeoutSeconds,
      @JsonProperty("wait_time_seconds")
          @Schema(
              description = "As at create; applies to requests that start waiting from now on",
              minimum = "1")
          Integer waitTimeSeconds) {}

  /** {@code POST /api/v1/deployments/{id}/demand}. */
  @Schema(
      name = "DemandReport",
      description =
          "Demand reported by hand: the deployment scales out (never in) to ceil((in_flight +"
              + " queued) / concurrency) workers, up to max_workers")
  public record Demand(
      @JsonProperty("in_flight")
          @Schema(
              description = "Requests being served",
              minimum = "0",
              maximum = "1000000",
              defaultValue = "0")
          Integer inFlight,
      @Schema(
              description = "Requests waiting",
              minimum = "0",
              maximum = "1000000",
              defaultValue = "0")
          Integer queued,
      @JsonProperty("active_workers")
          @ArraySchema(
              arraySchema =
                  @Schema(
                      description =
                          "Ids of current workers of this deployment that count as used now"
                              + " (their idle timers restart); another id answers 422"))
          List<String> activeWorkers) {}
}
