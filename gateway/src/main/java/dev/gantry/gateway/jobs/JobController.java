package dev.gantry.gateway.jobs;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.inference.InferenceException;
import dev.gantry.gateway.inference.InferenceProxy;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
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
  Mono<ResponseEntity<byte[]>> submit(
      @PathVariable String deploymentId, ServerWebExchange exchange) {
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
  Mono<ResponseEntity<byte[]>> poll(
      @PathVariable String deploymentId,
      @PathVariable String requestId,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return blocking(() -> service.poll(caller, deploymentId, requestId));
  }

  @DeleteMapping("/deployment/{deploymentId}/{requestId}")
  Mono<ResponseEntity<byte[]>> cancel(
      @PathVariable String deploymentId,
      @PathVariable String requestId,
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
