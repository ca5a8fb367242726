package dev.gantry.gateway.jobs;

import dev.gantry.api.job.JobStatus;
import dev.gantry.gateway.error.OpenAiErrorBody;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.Map;

/**
 * The async API's bodies as the OpenAPI document shows them. {@link JobController} reads and writes
 * raw bytes (the input is stored as sent, the answer relayed as the worker sent it), and {@link
 * JobResponses} writes these shapes; only the document uses the records.
 */
public final class JobBodies {
  private JobBodies() {}

  /** What a submit sends. */
  @Schema(name = "JobSubmit", description = "An async request: the route's body, in input")
  public record Submit(
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description =
                  "The body of the route called on the worker, e.g. a chat/completions request."
                      + " For chat/completions, completions and embeddings, model is required and"
                      + " must be the deployment's; stream must not be true",
              example =
                  "{\"model\": \"Qwen/Qwen2.5-7B-Instruct\", \"messages\": [{\"role\": \"user\","
                      + " \"content\": \"Hello!\"}]}")
          Map<String, Object> input) {}

  /** A job accepted, not finished, or cancelled. */
  @Schema(
      name = "Job",
      description = "A job's id and state",
      requiredProperties = {"id", "status"})
  public record Accepted(
      @Schema(example = "req_5c8h1m4q7t0w3y6b9e2g") String id, JobStatus status) {}

  /** A job that failed, was cancelled, or has already finished when cancelled. */
  @Schema(
      name = "EndedJob",
      description = "A job that ended without an answer to give, and why",
      requiredProperties = {"id", "status", "error"})
  public record Ended(
      @Schema(example = "req_5c8h1m4q7t0w3y6b9e2g") String id,
      JobStatus status,
      OpenAiErrorBody.Error error) {}
}
