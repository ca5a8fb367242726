package dev.gantry.gateway.inference;

import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.error.ErrorBodies;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.timeout.ReadTimeoutException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.core.io.buffer.NettyDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientResponse;
import reactor.netty.resources.ConnectionProvider;

/**
 * The OpenAI-compatible data plane, {@code /openai/{deployment_id}/v1/**}: tenant and model checks
 * against the in-memory routing table, admission (a free slot on the least loaded healthy worker,
 * or the deployment's FIFO queue), then a relay to the worker that keeps its status and body and
 * flushes every chunk of a stream as it arrives. It runs as a filter right after authentication, so
 * an inference request skips the management API's handler mapping.
 */
@ConditionalOnGatewayRole
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 20)
public class InferenceProxy implements WebFilter {
  static final String PREFIX = "/openai/";
  static final String REQUEST_ID = "X-Request-Id";
  private static final Logger log = LoggerFactory.getLogger(InferenceProxy.class);

  /** Routes whose body must name the deployment's model. */
  private static final Set<String> MODEL_ROUTES =
      Set.of("chat/completions", "completions", "embeddings");

  /** Hop-by-hop headers, and ones this proxy sets itself; never relayed. */
  private static final Set<String> NOT_RELAYED =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade",
          "x-request-id");

  private final RoutingTable routes;
  private final LoadReporter reporter;
  private final UsageSink usage;
  private final GantryProperties.Gateway settings;
  private final Clock clock;
  private final HttpClient client;

  public InferenceProxy(
      RoutingTable routes,
      LoadReporter reporter,
      UsageSink usage,
      GantryProperties properties,
      Clock clock) {
    this.routes = routes;
    this.reporter = reporter;
    this.usage = usage;
    this.settings = properties.gateway();
    this.clock = clock;
    var pool =
        ConnectionProvider.builder("gantry-workers")
            .maxConnections(4096)
            .pendingAcquireMaxCount(-1)
            .maxIdleTime(Duration.ofSeconds(30))
            .build();
    this.client =
        HttpClient.create(pool)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
            .responseTimeout(settings.responseTimeout())
            .keepAlive(true);
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
    String path = exchange.getRequest().getPath().pathWithinApplication().value();
    if (!path.startsWith(PREFIX)) {
      return chain.filter(exchange);
    }
    var call = Call.parse(exchange, path, RequestIds.of(exchange.getRequest()), clock.millis());
    exchange.getResponse().getHeaders().set(REQUEST_ID, call.requestId);
    return handle(exchange, call)
        .onErrorResume(InferenceException.class, e -> answerError(exchange, call, e))
        .onErrorResume(
            e -> !(e instanceof InferenceException) && !exchange.getResponse().isCommitted(),
            e -> {
              log.error("Inference request {} failed", call.requestId, e);
              return answerError(exchange, call, InferenceException.internal());
            })
        .doOnError(e -> call.failure = e)
        .doFinally(
            signal -> {
              var status = exchange.getResponse().getStatusCode();
              usage.record(call, signal, status == null ? 200 : status.value(), clock.millis());
            });
  }

  private Mono<Void> handle(ServerWebExchange exchange, Call call) {
    if (call.deploymentId == null) {
      return Mono.error(InferenceException.notFound());
    }
    DeploymentRoute route = routes.find(call.deploymentId);
    var caller = Caller.of(exchange);
    if (route == null || !route.tenantId().equals(caller.tenantId())) {
      return Mono.error(InferenceException.notFound());
    }
    call.route = route;
    var request = exchange.getRequest();
    if (request.getMethod() == HttpMethod.GET && call.rest.equals("models")) {
      return models(exchange, route);
    }
    long declared = request.getHeaders().getContentLength();
    if (declared > settings.maxBodyBytes()) {
      return Mono.error(InferenceException.tooLarge());
    }
    return DataBufferUtils.join(
            request.getBody(), (int) Math.min(Integer.MAX_VALUE, settings.maxBodyBytes()))
        .map(
            buffer -> {
              byte[] bytes = new byte[buffer.readableByteCount()];
              buffer.read(bytes);
              DataBufferUtils.release(buffer);
              return bytes;
            })
        .onErrorMap(DataBufferLimitException.class, e -> InferenceException.tooLarge())
        .defaultIfEmpty(new byte[0])
        .flatMap(body -> admitAndForward(exchange, call, route, body));
  }

  private Mono<Void> admitAndForward(
      ServerWebExchange exchange, Call call, DeploymentRoute route, byte[] body) {
    var fields = RequestFields.read(body);
    call.streamed = fields.stream();
    if (MODEL_ROUTES.contains(call.rest) && !fields.json()) {
      return Mono.error(
          new InferenceException(HttpStatus.BAD_REQUEST, "The request body must be a JSON object"));
    }
    if (MODEL_ROUTES.contains(call.rest) || fields.model() != null) {
      String model = route.spec().model();
      if (fields.model() == null) {
        return Mono.error(
            new InferenceException(
                HttpStatus.BAD_REQUEST,
                "model is required; this deployment serves '" + model + "'"));
      }
      if (!fields.model().equals(model)) {
        return Mono.error(
            new InferenceException(
                HttpStatus.NOT_FOUND,
                "The model '"
                    + fields.model()
                    + "' is not served by this deployment; it serves '"
                    + model
                    + "'"));
      }
    }
    return route
        .admit(() -> reporter.queued(route))
        .flatMap(lease -> forward(exchange, call, lease, body, true))
        .doOnDiscard(Lease.class, Lease::release);
  }

  /** Relays the request to the lease's worker; a refused connection is retried once elsewhere. */
  private Mono<Void> forward(
      ServerWebExchange exchange, Call call, Lease lease, byte[] body, boolean mayRetry) {
    call.workerId = lease.upstream.workerId;
    ServerHttpRequest request = exchange.getRequest();
    String query = request.getURI().getRawQuery();
    String uri = lease.upstream.baseUrl + "/v1/" + call.rest + (query == null ? "" : "?" + query);
    var contentType = request.getHeaders().getContentType();
    var accept = request.getHeaders().getFirst(HttpHeaders.ACCEPT);
    return client
        .request(io.netty.handler.codec.http.HttpMethod.valueOf(request.getMethod().name()))
        .uri(uri)
        .send(
            (req, out) -> {
              // Only what the engine needs: never the caller's Gantry key.
              req.header(
                  HttpHeaderNames.CONTENT_TYPE,
                  contentType == null ? MediaType.APPLICATION_JSON_VALUE : contentType.toString());
              if (accept != null) {
                req.header(HttpHeaderNames.ACCEPT, accept);
              }
              req.header(REQUEST_ID, call.requestId);
              return body.length == 0
                  ? out
                  : out.send(Mono.fromSupplier(() -> Unpooled.wrappedBuffer(body)));
            })
        .response((upstream, content) -> relay(exchange, call, upstream, content))
        .then()
        .doFinally(signal -> lease.release())
        .onErrorResume(
            e -> !exchange.getResponse().isCommitted(),
            e -> {
              if (unreachable(e)) {
                // It never reached the worker: one retry on another, never on the same.
                lease.route.markUnreachable(
                    lease.upstream, settings.unreachableCooldown().toMillis());
                Lease other = mayRetry ? lease.route.tryAcquireOther(lease.upstream) : null;
                log.warn(
                    "Worker {} unreachable for request {}{}: {}",
                    lease.upstream.workerId,
                    call.requestId,
                    other == null ? "" : ", retrying on " + other.upstream.workerId,
                    e.toString());
                if (other != null) {
                  return forward(exchange, call, other, body, false);
                }
                return Mono.error(InferenceException.badGateway());
              }
              if (e instanceof ReadTimeoutException) {
                return Mono.error(
                    new InferenceException(
                        HttpStatus.GATEWAY_TIMEOUT, "Inference timed out, please retry"));
              }
              if (e instanceof InferenceException) {
                return Mono.error(e);
              }
              log.warn(
                  "Worker {} failed request {}: {}",
                  lease.upstream.workerId,
                  call.requestId,
                  e.toString());
              return Mono.error(InferenceException.badGateway());
            });
  }

  private static boolean unreachable(Throwable e) {
    return e instanceof ConnectException
        || e instanceof io.netty.channel.ConnectTimeoutException
        || e.getCause() instanceof ConnectException;
  }

  /** Copies the worker's status, headers and body; a worker's 5xx becomes the gateway's 502. */
  private Mono<Void> relay(
      ServerWebExchange exchange, Call call, HttpClientResponse upstream, ByteBufFlux content) {
    int status = upstream.status().code();
    if (status >= 500) {
      log.warn("Worker {} answered {} to request {}", call.workerId, status, call.requestId);
      return content.then(Mono.error(InferenceException.badGateway()));
    }
    ServerHttpResponse response = exchange.getResponse();
    response.setStatusCode(HttpStatus.valueOf(status));
    var headers = response.getHeaders();
    upstream
        .responseHeaders()
        .forEach(
            entry -> {
              if (!NOT_RELAYED.contains(entry.getKey().toLowerCase(java.util.Locale.ROOT))) {
                headers.add(entry.getKey(), entry.getValue());
              }
            });
    String contentType = upstream.responseHeaders().get(HttpHeaderNames.CONTENT_TYPE);
    boolean eventStream = contentType != null && contentType.startsWith("text/event-stream");
    var meter = call.meter;
    Flux<DataBuffer> body =
        content
            .retain()
            // The server cancels the relay when the client goes away, and then completes.
            .doOnCancel(() -> call.clientLeft = true)
            .map(
                buf -> {
                  meter.observe(buf, eventStream);
                  return toDataBuffer(response, buf);
                });
    if (eventStream) {
      // One flush per chunk the worker wrote: an SSE event is never held back.
      return response.writeAndFlushWith(body.map(Mono::just));
    }
    return response.writeWith(body);
  }

  private static DataBuffer toDataBuffer(ServerHttpResponse response, ByteBuf buf) {
    if (response.bufferFactory() instanceof NettyDataBufferFactory netty) {
      return netty.wrap(buf);
    }
    try {
      byte[] bytes = new byte[buf.readableBytes()];
      buf.readBytes(bytes);
      return response.bufferFactory().wrap(bytes);
    } finally {
      buf.release();
    }
  }

  /** {@code GET /v1/models}, answered from the routing table without waking a worker. */
  private Mono<Void> models(ServerWebExchange exchange, DeploymentRoute route) {
    var spec = route.spec();
    String body =
        "{\"object\":\"list\",\"data\":[{\"id\":"
            + RequestFields.quote(spec.model())
            + ",\"object\":\"model\",\"created\":0,\"owned_by\":\"gantry\"}]}";
    var response = exchange.getResponse();
    response.setStatusCode(HttpStatus.OK);
    response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
    return response.writeWith(
        Mono.just(response.bufferFactory().wrap(body.getBytes(StandardCharsets.UTF_8))));
  }

  private Mono<Void> answerError(ServerWebExchange exchange, Call call, InferenceException e) {
    var response = exchange.getResponse();
    if (response.isCommitted()) {
      // The worker's response already started: nothing to do but end the connection.
      return Mono.error(e);
    }
    response.getHeaders().clear();
    response.getHeaders().set(REQUEST_ID, call.requestId);
    String retryAfter = InferenceException.retryAfterSeconds(e.status());
    if (retryAfter != null) {
      response.getHeaders().set(HttpHeaders.RETRY_AFTER, retryAfter);
    }
    return ErrorBodies.write(exchange, call.path, e.status(), e.getMessage());
  }

  /** One inference request, as it goes through the proxy. */
  static final class Call {
    final String path;
    final String deploymentId;
    final String rest;
    final String requestId;
    final long startedAtMillis;
    final UsageMeter meter = new UsageMeter();
    DeploymentRoute route;
    String workerId;
    boolean streamed;
    Throwable failure;
    volatile boolean clientLeft;

    private Call(
        String path, String deploymentId, String rest, String requestId, long startedAtMillis) {
      this.path = path;
      this.deploymentId = deploymentId;
      this.rest = rest;
      this.requestId = requestId;
      this.startedAtMillis = startedAtMillis;
    }

    /** {@code /openai/{id}/v1/{rest}}; a path of another shape has no deployment id. */
    static Call parse(ServerWebExchange exchange, String path, String requestId, long now) {
      int idEnd = path.indexOf('/', PREFIX.length());
      if (idEnd > PREFIX.length() && path.startsWith("/v1/", idEnd)) {
        String rest = path.substring(idEnd + 4);
        if (!rest.isEmpty() && !rest.contains("..")) {
          return new Call(path, path.substring(PREFIX.length(), idEnd), rest, requestId, now);
        }
      }
      return new Call(path, null, "", requestId, now);
    }
  }
}
