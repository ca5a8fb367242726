package dev.gantry.gateway.deployment;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** {@code /api/v1/deployments/{id}/logs}: translates HTTP to one {@link WorkerLogService} call. */
@ConditionalOnGatewayRole
@RestController
@RequestMapping("/api/v1/deployments")
@Tag(name = "Deployments")
public class WorkerLogController {
  private final WorkerLogService service;

  public WorkerLogController(WorkerLogService service) {
    this.service = service;
  }

  @GetMapping(
      value = "/{id}/logs",
      produces = {MediaType.APPLICATION_JSON_VALUE, MediaType.TEXT_EVENT_STREAM_VALUE})
  @Operation(
      summary = "Read or follow workers' engine logs",
      operationId = "workerLogs",
      description =
          "Without follow: the last tail lines of one worker's log, or of every worker the workers"
              + " listing shows (newest worker first). With follow=true (needs worker): a"
              + " text/event-stream of data: {\"worker_id\", \"line\"} events, the last tail lines"
              + " first, then live lines, ending with an event named end when the worker stops (at"
              + " once if it has). Secrets are masked as *** by the deployment's own env values and"
              + " by credential shapes; a line is at most 16 KiB.")
  @ApiResponse(
      responseCode = "200",
      description = "The lines (JSON), or the live stream (text/event-stream)",
      content = {
        @Content(
            mediaType = MediaType.APPLICATION_JSON_VALUE,
            schema = @Schema(implementation = WorkerLogService.Logs.class)),
        @Content(
            mediaType = MediaType.TEXT_EVENT_STREAM_VALUE,
            schema = @Schema(implementation = WorkerLogService.LogLine.class))
      })
  @ApiResponse(
      responseCode = "400",
      description = "tail not in 0..5000, follow not a boolean, or follow without worker")
  @ApiResponse(
      responseCode = "404",
      description =
          "Unknown deployment, or another tenant's; or a worker the deployment's listing does not"
              + " show")
  @ApiResponse(
      responseCode = "429",
      description =
          "The tenant already follows gantry.observability.log-follows-per-deployment logs of"
              + " this deployment")
  Mono<ResponseEntity<Object>> logs(
      @Parameter(description = "The deployment's id (dep_...)") @PathVariable String id,
      @Parameter(description = "One worker's id; all listed workers when absent")
          @RequestParam(required = false)
          String worker,
      @Parameter(
              description = "Lines from the end of each log",
              schema =
                  @Schema(type = "integer", minimum = "0", maximum = "5000", defaultValue = "200"))
          @RequestParam(required = false)
          String tail,
      @Parameter(
              description = "Stream new lines as server-sent events until the worker stops",
              schema = @Schema(type = "boolean", defaultValue = "false"))
          @RequestParam(required = false)
          String follow,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var query = WorkerLogService.Query.parse(worker, tail, follow);
    if (query.follow()) {
      return Mono.fromCallable(() -> service.follow(caller, id, query))
          .subscribeOn(Schedulers.boundedElastic())
          .map(
              events ->
                  ResponseEntity.ok()
                      .contentType(MediaType.TEXT_EVENT_STREAM)
                      .header("Cache-Control", "no-cache")
                      .<Object>body(events));
    }
    return Mono.fromCallable(() -> service.tail(caller, id, query))
        .subscribeOn(Schedulers.boundedElastic())
        .map(
            logs -> ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).<Object>body(logs));
  }
}
