package dev.gantry.gateway.deployment;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.web.BaseUrl;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
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
public class DeploymentController {
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
  Mono<List<DeploymentView>> list(ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.list(caller, base));
  }

  @GetMapping("/{id}")
  Mono<DeploymentView> get(@PathVariable String id, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.get(caller, id, base));
  }

  @PatchMapping("/{id}")
  Mono<DeploymentView> edit(
      @PathVariable String id, @RequestBody Map<String, Object> body, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.edit(caller, id, body, base));
  }

  @DeleteMapping("/{id}")
  Mono<ResponseEntity<DeploymentView>> delete(@PathVariable String id, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    var base = baseUrl.of(exchange);
    return blocking(() -> service.delete(caller, id, base))
        .map(v -> ResponseEntity.status(HttpStatus.ACCEPTED).body(v));
  }

  @GetMapping("/{id}/workers")
  Mono<List<WorkerView>> workers(@PathVariable String id, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(() -> service.workers(caller, id));
  }

  /**
   * Reports demand for a deployment, as the inference gateway does: lets operators and tests drive
   * the autoscaler directly.
   */
  @PostMapping("/{id}/demand")
  Mono<ResponseEntity<Void>> demand(
      @PathVariable String id, @RequestBody Map<String, Object> body, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(
        () -> {
          service.reportDemand(caller, id, body);
          return ResponseEntity.accepted().<Void>build();
        });
  }
}
