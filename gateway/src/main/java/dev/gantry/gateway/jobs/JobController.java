package dev.gantry.gateway.jobs;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.inference.InferenceException;
import dev.gantry.gateway.inference.InferenceProxy;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * {@code /deployment/{deployment_id}/...}: the async API (docs/api.md "Inference"). Submit answers
 * as soon as the job is stored; poll and cancel read the database and ask the job's workflow.
 */
@ConditionalOnGatewayRole
@RestController
@Tag(
    name = "Async jobs",
    description =
        "Submit a request to a deployment, poll for its answer, cancel it. Errors use the OpenAI"
            + " shape.")
public class JobController {
  private static final Logger log = LoggerFactory.getLogger(JobController.class);
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";

  private final JobService service;
  private final InferenceProxy proxy;
  private final long maxBodyBytes;

  public JobController(JobService service, InferenceProxy proxy, GantryProperties properties) {
    this.service = service;
    this.proxy = proxy;
    this.maxBodyBytes = properties.gateway().maxBodyBytes();
  }

  @PostMapping("/deployment/{deploymentId}/**")
  @Operation(
      summary = "Submit an async request",
      operationId = "submitJob",
      description =
          "The path after the deployment id is the route called on the worker: one of the"
              + " routes listed here, exactly (the document lists each; JobRouteDocs). The job is"
              + " stored before the answer, so an accepted job survives a restart.",
      requestBody =
          @io.swagger.v3.oas.annotations.parameters.RequestBody(
              required = true,
              content = @Content(schema = @Schema(implementation = JobBodies.Submit.class))))
  @Parameter(
      in = ParameterIn.HEADER,
      name = IDEMPOTENCY_KEY,
      description =
          "1-255 visible ASCII characters, per tenant, for as long as the job lives: the same key"
              + " and request answer the first job",
      schema = @Schema(type = "string", maxLength = 255))
  @ApiResponse(
      responseCode = "202",
      description = "Accepted (or the job an earlier submit with the same Idempotency-Key made)",
      content = @Content(schema = @Schema(implementation = JobBodies.Accepted.class)))
  @ApiResponse(
      responseCode = "400",
      description =
          "The route is not one of the above, the body is not an object with an input object,"
              + " input.model is missing, input.stream is true, max_tokens or n is above the"
              + " deployment's limit, or the Idempotency-Key is malformed")
  @ApiResponse(
      responseCode = "404",
      description =
          "The deployment is unknown, another tenant's or not running, or input.model is not"
              + " its model")
  @ApiResponse(
      responseCode = "409",
      description = "The first submit with this Idempotency-Key is still being stored")
  @ApiResponse(
      responseCode = "413",
      description = "The body is larger than gantry.gateway.max-body-bytes")
  @ApiResponse(
      responseCode = "422",
      description = "The Idempotency-Key was already used with another deployment, route or input")
  @ApiResponse(
      responseCode = "429",
      description =
          "The request bodies or stored job inputs the gateway holds are at their bound, or the"
              + " source address failed to authenticate too often (with Retry-After)")
  Mono<ResponseEntity<byte[]>> submit(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String deploymentId,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var request = exchange.getRequest();
    String path = request.getPath().pathWithinApplication().value();
    String route = path.substring(("/deployment/" + deploymentId + "/").length());
    String key = request.getHeaders().getFirst(IDEMPOTENCY_KEY);
    long declared = request.getHeaders().getContentLength();
    if (declared > maxBodyBytes) {
      return Mono.just(tooLarge());
    }
    // The body is held in memory until the job is stored: it counts against the same budget as a
    // synchronous request's (a body without a declared length, as if it had the largest one).
    Runnable release =
        proxy.reserveBody(caller.tenantId(), deploymentId, declared >= 0 ? declared : maxBodyBytes);
    if (release == null) {
      var busy = InferenceException.queueFull();
      return Mono.just(JobResponses.error(busy.status(), busy.getMessage()));
    }
    return DataBufferUtils.join(request.getBody(), (int) Math.min(Integer.MAX_VALUE, maxBodyBytes))
        .map(
            buffer -> {
              byte[] bytes = new byte[buffer.readableByteCount()];
              buffer.read(bytes);
              DataBufferUtils.release(buffer);
              return bytes;
            })
        .defaultIfEmpty(new byte[0])
        .flatMap(body -> blocking(() -> service.submit(caller, deploymentId, route, body, key)))
        .onErrorResume(DataBufferLimitException.class, e -> Mono.just(tooLarge()))
        .doFinally(signal -> release.run());
  }

  @GetMapping("/deployment/{deploymentId}/{requestId}")
  @Operation(
      summary = "Poll an async request",
      operationId = "pollJob",
      description =
          "While the job runs, its state; once completed, the worker's answer itself. Results are"
              + " kept for gantry.jobs.retention (30 min) after the job ends.")
  @ApiResponse(
      responseCode = "200",
      description = "Completed: the worker's answer itself (e.g. a chat.completion object)",
      content =
          @Content(
              mediaType = "application/json",
              schema = @Schema(type = "object", description = "The worker's answer")))
  @ApiResponse(
      responseCode = "202",
      description = "Not finished: queued, fetched or processing",
      content = @Content(schema = @Schema(implementation = JobBodies.Accepted.class)))
  @ApiResponse(
      responseCode = "404",
      description = "Unknown, expired, another tenant's or another deployment's request id")
  @ApiResponse(
      responseCode = "410",
      description = "Cancelled",
      content = @Content(schema = @Schema(implementation = JobBodies.Ended.class)))
  @ApiResponse(
      responseCode = "5XX",
      description =
          "Failed: the status a synchronous call would have got (a framework's own 4xx is"
              + " answered with that status), with the error",
      content = @Content(schema = @Schema(implementation = JobBodies.Ended.class)))
  Mono<ResponseEntity<byte[]>> poll(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String deploymentId,
      @Parameter(description = "The request id the submit answered (req_...)") @PathVariable
          String requestId,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(() -> service.poll(caller, deploymentId, requestId));
  }

  @DeleteMapping("/deployment/{deploymentId}/{requestId}")
  @Operation(
      summary = "Cancel an async request",
      operationId = "cancelJob",
      description = "A running engine call is aborted. Cancelling a cancelled job is no error.")
  @ApiResponse(
      responseCode = "202",
      description = "Cancelled",
      content = @Content(schema = @Schema(implementation = JobBodies.Accepted.class)))
  @ApiResponse(responseCode = "404", description = "Unknown, expired or another tenant's id")
  @ApiResponse(
      responseCode = "409",
      description = "The job has already finished (completed or failed)",
      content = @Content(schema = @Schema(implementation = JobBodies.Ended.class)))
  Mono<ResponseEntity<byte[]>> cancel(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String deploymentId,
      @Parameter(description = "The request id the submit answered (req_...)") @PathVariable
          String requestId,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(() -> service.cancel(caller, deploymentId, requestId));
  }

  private static Mono<ResponseEntity<byte[]>> blocking(Callable<ResponseEntity<byte[]>> call) {
    return Mono.fromCallable(call)
        .subscribeOn(Schedulers.boundedElastic())
        .onErrorResume(
            e -> {
              log.error("Async request failed", e);
              var internal =
                  new InferenceException(
                      HttpStatus.INTERNAL_SERVER_ERROR, "Request failed, please retry");
              return Mono.just(JobResponses.error(internal.status(), internal.getMessage()));
            });
  }

  private static ResponseEntity<byte[]> tooLarge() {
    return JobResponses.error(HttpStatus.CONTENT_TOO_LARGE, "Request too large");
  }
}
