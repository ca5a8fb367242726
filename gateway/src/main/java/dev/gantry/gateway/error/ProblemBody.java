package dev.gantry.gateway.error;

import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.List;

/**
 * The shape of the management API's errors in the OpenAPI document: the RFC 9457 problem that
 * {@link ProblemHandler} and {@link ErrorBodies} write. Only the document uses this record; it
 * names the fields those two write.
 */
@Schema(
    name = "Problem",
    description = "An RFC 9457 problem (application/problem+json), as docs/api.md \"Errors\" says.")
public record ProblemBody(
    @Schema(
            description = "Always about:blank",
            example = "about:blank",
            requiredMode = Schema.RequiredMode.REQUIRED)
        String type,
    @Schema(
            description = "The status's reason phrase",
            example = "Bad Request",
            requiredMode = Schema.RequiredMode.REQUIRED)
        String title,
    @Schema(
            description = "The HTTP status",
            example = "400",
            requiredMode = Schema.RequiredMode.REQUIRED)
        int status,
    @Schema(
            description = "What went wrong, in words a user can act on",
            example = "The request has invalid fields.",
            requiredMode = Schema.RequiredMode.REQUIRED)
        String detail,
    @Schema(
            description =
                "The request path; absent on answers of the authentication step (401, the 400"
                    + " for a path not written plainly, the 429 for failed authentications)",
            example = "/api/v1/deployments")
        String instance,
    @ArraySchema(
            arraySchema =
                @Schema(
                    description =
                        "Every bad field of the request at once: on validation problems (400)"
                            + " and on the 422 of an edit"))
        List<FieldError> errors) {}
