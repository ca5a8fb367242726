package dev.gantry.gateway.deployment;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** {@code /api/v1/deployments/{id}/usage} and {@code /api/v1/usage}: one UsageService call each. */
@ConditionalOnGatewayRole
@RestController
@Tag(name = "Usage", description = "Requests, tokens, latencies, workers and cost over time")
public class UsageController {
  private static final String RANGE =
      "from and to are ISO-8601 date-times with an offset (default: the 24 hours before now);"
          + " step is the bucket length in seconds (default 3600, at least 60, at most 1000"
          + " buckets). Buckets start at from, every step.";

  private final UsageService service;

  public UsageController(UsageService service) {
    this.service = service;
  }

  @GetMapping("/api/v1/deployments/{id}/usage")
  @Operation(
      summary = "A deployment's usage and cost over time",
      operationId = "deploymentUsage",
      description = RANGE)
  @ApiResponse(responseCode = "200", description = "The usage report")
  @ApiResponse(
      responseCode = "400",
      description = "from, to or step invalid, or more than 1000 buckets (each field named)")
  @ApiResponse(responseCode = "404", description = "Unknown deployment, or another tenant's")
  Mono<UsageService.Report> deployment(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      @Parameter(schema = @Schema(type = "string", format = "date-time"))
          @RequestParam(required = false)
          String from,
      @Parameter(schema = @Schema(type = "string", format = "date-time"))
          @RequestParam(required = false)
          String to,
      @Parameter(schema = @Schema(type = "integer", minimum = "60", defaultValue = "3600"))
          @RequestParam(required = false)
          String step,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return Mono.fromCallable(() -> service.deployment(caller, id, from, to, step))
        .subscribeOn(Schedulers.boundedElastic());
  }

  @GetMapping("/api/v1/usage")
  @Operation(
      summary = "The tenant's usage and cost over time",
      operationId = "tenantUsage",
      description =
          RANGE
              + " Over every deployment of the caller's tenant that existed in the period,"
              + " deleted ones too, with each one's cost in deployments.")
  @ApiResponse(responseCode = "200", description = "The usage report, with deployments")
  @ApiResponse(
      responseCode = "400",
      description = "from, to or step invalid, or more than 1000 buckets (each field named)")
  Mono<UsageService.Report> tenant(
      @Parameter(schema = @Schema(type = "string", format = "date-time"))
          @RequestParam(required = false)
          String from,
      @Parameter(schema = @Schema(type = "string", format = "date-time"))
          @RequestParam(required = false)
          String to,
      @Parameter(schema = @Schema(type = "integer", minimum = "60", defaultValue = "3600"))
          @RequestParam(required = false)
          String step,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return Mono.fromCallable(() -> service.tenant(caller, from, to, step))
        .subscribeOn(Schedulers.boundedElastic());
  }
}
