package dev.gantry.app;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** {@code /healthz}: the process serves. {@code /readyz}: Temporal and the database answer. */
@RestController
@Tag(name = "Health", description = "No API key needed; on every process, whatever its roles")
public class HealthController {
  private static final String READY =
      "{\"status\": \"ready\", \"checks\": {\"database\": \"up\", \"temporal\": \"up\"}}";
  private static final String NOT_READY =
      "{\"status\": \"not_ready\", \"checks\": {\"database\": \"up\", \"temporal\":"
          + " \"down\"}}";
  private final JdbcClient jdbc;
  private final WorkflowServiceStubs temporal;

  public HealthController(JdbcClient jdbc, WorkflowServiceStubs temporal) {
    this.jdbc = jdbc;
    this.temporal = temporal;
  }

  @GetMapping("/healthz")
  @Operation(summary = "Whether the process serves HTTP", operationId = "health")
  @ApiResponse(
      responseCode = "200",
      description = "Serving: {\"status\": \"ok\"}",
      content = @Content(schema = @Schema(example = "{\"status\": \"ok\"}")))
  Map<String, String> health() {
    return Map.of("status", "ok");
  }

  @GetMapping("/readyz")
  @Operation(summary = "Whether the database and Temporal answer", operationId = "ready")
  @ApiResponse(
      responseCode = "200",
      description = "Ready: every check is up",
      content = @Content(schema = @Schema(example = READY)))
  @ApiResponse(
      responseCode = "503",
      description = "Not ready: a check is down",
      content = @Content(schema = @Schema(example = NOT_READY)))
  Mono<ResponseEntity<Map<String, Object>>> ready() {
    return Mono.fromCallable(
            () -> {
              var checks = new LinkedHashMap<String, Object>();
              checks.put(
                  "database", check(() -> jdbc.sql("select 1").query(Integer.class).single()));
              checks.put("temporal", check(() -> temporal.healthCheck()));
              boolean up = checks.values().stream().allMatch("up"::equals);
              var body = new LinkedHashMap<String, Object>();
              body.put("status", up ? "ready" : "not_ready");
              body.put("checks", checks);
              return ResponseEntity.status(up ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
                  .body((Map<String, Object>) body);
            })
        .subscribeOn(Schedulers.boundedElastic());
  }

  private static String check(Runnable probe) {
    try {
      probe.run();
      return "up";
    } catch (RuntimeException e) {
      return "down";
    }
  }
}
