package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/**
 * The deployment object of docs/api.md. Env values are always masked. {@code download} is an
 * addition to the contract: the model download's progress, present only while {@code
 * downloading_model}. So are {@code max_tokens_limit} and {@code n_limit}: the request limits in
 * force (the deployment's, or the platform's defaults).
 */
public record DeploymentView(
    String id,
    String name,
    String status,
    @JsonProperty("status_reason") @JsonInclude(JsonInclude.Include.ALWAYS) String statusReason,
    String model,
    String framework,
    @JsonInclude(JsonInclude.Include.ALWAYS) Gpu gpu,
    @JsonProperty("min_workers") int minWorkers,
    @JsonProperty("max_workers") int maxWorkers,
    int concurrency,
    @JsonProperty("idle_timeout_seconds") int idleTimeoutSeconds,
    @JsonProperty("wait_time_seconds") int waitTimeSeconds,
    @JsonProperty("storage_gb") int storageGb,
    Map<String, String> env,
    @JsonProperty("framework_args") List<String> frameworkArgs,
    @JsonProperty("max_tokens_limit") int maxTokensLimit,
    @JsonProperty("n_limit") int nLimit,
    Workers workers,
    @JsonProperty("accrued_cost_usd") BigDecimal accruedCostUsd,
    @JsonProperty("openai_base_url") String openaiBaseUrl,
    @JsonProperty("created_at") String createdAt,
    @JsonProperty("updated_at") String updatedAt,
    @JsonInclude(JsonInclude.Include.NON_NULL) Download download) {

  public record Gpu(
      String type, int count, @JsonProperty("fallback_types") List<String> fallbackTypes) {}

  public record Workers(int provisioning, int healthy, int total) {}

  /** Bytes of the model in storage so far and the model's total size. */
  public record Download(
      @JsonProperty("bytes_done") long bytesDone, @JsonProperty("bytes_total") long bytesTotal) {}
}
