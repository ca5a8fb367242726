package dev.gantry.app;

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
public class HealthController {
  private final JdbcClient jdbc;
  private final WorkflowServiceStubs temporal;

  public HealthController(JdbcClient jdbc, WorkflowServiceStubs temporal) {
    this.jdbc = jdbc;
    this.temporal = temporal;
  }

  @GetMapping("/healthz")
  Map<String, String> health() {
    return Map.of("status", "ok");
  }

  @GetMapping("/readyz")
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
