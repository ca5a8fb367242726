package dev.gantry.gateway.error;

import io.swagger.v3.oas.annotations.media.Schema;

/**
 * The shape of the inference routes' errors in the OpenAPI document: the OpenAI error object that
 * {@link ErrorBodies#openAi} writes, so the OpenAI SDKs raise their usual exceptions. Only the
 * document uses this record.
 */
@Schema(
    name = "OpenAiError",
    description = "An error in the OpenAI shape, as docs/api.md \"Errors\" says.")
public record OpenAiErrorBody(@Schema(requiredMode = Schema.RequiredMode.REQUIRED) Error error) {

  /** The error object itself. */
  @Schema(name = "OpenAiErrorObject")
  public record Error(
      @Schema(
              description = "What went wrong",
              example = "Server busy, please retry",
              requiredMode = Schema.RequiredMode.REQUIRED)
          String message,
      @Schema(
              description = "The error's kind, from its status",
              allowableValues = {
                "authentication_error",
                "not_found_error",
                "rate_limit_error",
                "server_error",
                "invalid_request_error"
              },
              requiredMode = Schema.RequiredMode.REQUIRED)
          String type,
      @Schema(
              description = "The HTTP status as a number",
              example = "429",
              requiredMode = Schema.RequiredMode.REQUIRED)
          int code) {}
}
