package dev.gantry.gateway.deployment;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.web.BaseUrl;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PatchMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** {@code /api/v1/deployments}: translates HTTP to one {@link DeploymentService} call and back. */
@ConditionalOnGatewayRole
@RestController
@RequestMapping("/api/v1/deployments")
@Tag(name = "Deployments", description = "Deployments, their workers, and demand reported by hand")
public class DeploymentController {
  private static final String NOT_FOUND = "Unknown deployment, or another tenant's";

  private final DeploymentService service;
  private final BaseUrl baseUrl;

  public DeploymentController(DeploymentService service, BaseUrl baseUrl) {
    this.service = service;
    this.baseUrl = baseUrl;
  }

  private static <T> Mono<T> blocking(Callable<T> call) {
    return Mono.fromCallable(call).subscribeOn(Schedulers.boundedElastic());
  }

  @PostMapping
  @Operation(
      summary = "Create a deployment",
      operationId = "createDeployment",
      description =
          "Answers with the deployment object, status starting. A tenant owns at most"
              + " gantry.limits.max-deployments-per-tenant deployments that are not deleted.",
      requestBody =
          @io.swagger.v3.oas.annotations.parameters.RequestBody(
              required = true,
              content =
                  @Content(schema = @Schema(implementation = DeploymentRequests.Create.class))))
  @Parameter(
      in = ParameterIn.HEADER,
      name = CreateIdempotency.HEADER,
      description =
          "Makes the create safe to retry (1-255 visible ASCII characters, kept 24 h per tenant):"
              + " the same key and request answer the first create's deployment",
      schema = @Schema(type = "string", maxLength = 255))
  @ApiResponse(
      responseCode = "201",
      description = "Created, or an earlier create with the same Idempotency-Key replayed",
      headers =
          @Header(
              name = CreateIdempotency.REPLAYED,
              description = "true when the answer repeats an earlier create with the same key",
              schema = @Schema(type = "string", allowableValues = "true")))
  @ApiResponse(
      responseCode = "400",
      description =
          "Invalid fields (all listed in errors), a body that is not JSON of the expected shape,"
              + " or a malformed Idempotency-Key")
  @ApiResponse(
      responseCode = "409",
      description = "An earlier create with the same Idempotency-Key is still under way")
  @ApiResponse(
      responseCode = "422",
      description = "The Idempotency-Key was already used with a different request")
  @ApiResponse(
      responseCode = "429",
      description =
          "The tenant already has its most deployments, or the source address failed to"
              + " authenticate too often (with Retry-After)")
  @ApiResponse(
      responseCode = "503",
      description = "The control plane could not start the deployment; nothing was created")
  Mono<ResponseEntity<DeploymentView>> create(
      @RequestBody Map<String, Object> body, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    String key = exchange.getRequest().getHeaders().getFirst(CreateIdempotency.HEADER);
    return blocking(() -> service.create(caller, body, base, key))
        .map(
            created -> {
              var answer = ResponseEntity.status(HttpStatus.CREATED);
              if (created.replayed()) {
                answer.header(CreateIdempotency.REPLAYED, "true");
              }
              return answer.body(created.view());
            });
  }

  @GetMapping
  @Operation(
      summary = "List the caller's deployments",
      operationId = "listDeployments",
      description = "Newest first; deployments deleted more than 24 hours ago are left out.")
  @ApiResponse(
      responseCode = "200",
      description = "The caller's deployments",
      content =
          @Content(array = @ArraySchema(schema = @Schema(implementation = DeploymentView.class))))
  Mono<List<DeploymentView>> list(ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.list(caller, base));
  }

  @GetMapping("/{id}")
  @Operation(
      summary = "Get one deployment",
      operationId = "getDeployment",
      description = "Also a deleted one.")
  @ApiResponse(responseCode = "200", description = "The deployment object")
  @ApiResponse(responseCode = "404", description = NOT_FOUND)
  Mono<DeploymentView> get(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.get(caller, id, base));
  }

  @PatchMapping("/{id}")
  @Operation(
      summary = "Change a running deployment",
      operationId = "editDeployment",
      description =
          "Changes name, idle_timeout_seconds and wait_time_seconds without restarting workers.",
      requestBody =
          @io.swagger.v3.oas.annotations.parameters.RequestBody(
              required = true,
              content = @Content(schema = @Schema(implementation = DeploymentRequests.Edit.class))))
  @ApiResponse(responseCode = "200", description = "The deployment object with the new values")
  @ApiResponse(
      responseCode = "400",
      description = "Invalid fields (all listed in errors), or no field given")
  @ApiResponse(responseCode = "404", description = NOT_FOUND)
  @ApiResponse(
      responseCode = "409",
      description = "The deployment is not running, or its deletion was asked for")
  @ApiResponse(
      responseCode = "422",
      description = "A field that cannot change was given (each listed in errors); nothing changed")
  Mono<DeploymentView> edit(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      @RequestBody Map<String, Object> body,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.edit(caller, id, body, base));
  }

  @DeleteMapping("/{id}")
  @Operation(
      summary = "Delete a deployment",
      operationId = "deleteDeployment",
      description =
          "Asks for deletion: workers are drained and stopped, then storage, logs and env secrets"
              + " are removed (deleting -> deleted). Deleting a failed, deleting or deleted"
              + " deployment is not an error.")
  @ApiResponse(
      responseCode = "202",
      description = "Deletion asked for; the deployment object as stored at that moment")
  @ApiResponse(responseCode = "404", description = NOT_FOUND)
  Mono<ResponseEntity<DeploymentView>> delete(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.delete(caller, id, base))
        .map(v -> ResponseEntity.status(HttpStatus.ACCEPTED).body(v));
  }

  @GetMapping("/{id}/workers")
  @Operation(
      summary = "List a deployment's workers",
      operationId = "listWorkers",
      description =
          "Current workers first, then those that stopped or failed in the last 24 hours, each"
              + " group oldest first.")
  @ApiResponse(
      responseCode = "200",
      description = "The deployment's workers",
      content = @Content(array = @ArraySchema(schema = @Schema(implementation = WorkerView.class))))
  @ApiResponse(responseCode = "404", description = NOT_FOUND)
  Mono<List<WorkerView>> workers(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(() -> service.workers(caller, id));
  }

  /**
   * Reports demand for a deployment, as the inference gateway does: lets operators and tests drive
   * the autoscaler directly.
   */
  @PostMapping("/{id}/demand")
  @Operation(
      summary = "Report demand by hand",
      operationId = "reportDemand",
      description = "As the inference gateway does on its own; a report never scales in.",
      requestBody =
          @io.swagger.v3.oas.annotations.parameters.RequestBody(
              required = true,
              content =
                  @Content(schema = @Schema(implementation = DeploymentRequests.Demand.class))))
  @ApiResponse(responseCode = "202", description = "Reported; no body")
  @ApiResponse(responseCode = "400", description = "Invalid fields (all listed in errors)")
  @ApiResponse(responseCode = "404", description = NOT_FOUND)
  @ApiResponse(responseCode = "409", description = "The deployment is not running")
  @ApiResponse(
      responseCode = "422",
      description = "active_workers names a worker that is not current")
  Mono<ResponseEntity<Void>> demand(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      @RequestBody Map<String, Object> body,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(
        () -> {
          service.reportDemand(caller, id, body);
          return ResponseEntity.accepted().<Void>build();
        });
  }
}
