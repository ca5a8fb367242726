package dev.gantry.gateway.error;

import io.swagger.v3.oas.annotations.media.Schema;

/** One invalid field in a request, as listed in a validation problem's {@code errors}. */
public record FieldError(
    @Schema(
            description =
                "The field: nested fields dotted (gpu.count, env.HF_TOKEN), list items indexed"
                    + " (framework_args[2])",
            example = "max_workers",
            requiredMode = Schema.RequiredMode.REQUIRED)
        String field,
    @Schema(
            description = "What is wrong with it; never echoes a secret value",
            example = "must be at least min_workers",
            requiredMode = Schema.RequiredMode.REQUIRED)
        String message) {}
