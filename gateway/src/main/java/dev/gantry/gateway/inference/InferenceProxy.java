package dev.gantry.gateway.inference;

import dev.gantry.gateway.error.ErrorBodies;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.config.GantryProperties;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.timeout.ReadTimeoutException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.LongFunction;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientResponse;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.ConnectionProvider;

/**
 * The OpenAI-compatible data plane, {@code /openai/{deployment_id}/v1/**}: API key, tenant and
 * model checks against in-memory tables, admission (a free slot on the least loaded healthy worker,
 * or the deployment's FIFO queue), then a relay to the worker that keeps its status and body and
 * flushes every chunk of a stream as it arrives.
 *
 * <p>It is a Reactor Netty route ({@link InferenceRoutes}) ahead of the WebFlux application: an
 * inference request never builds a {@code ServerWebExchange} or walks the filter chain and handler
 * mapping of the management API, which cost most of the gateway's CPU per request under load.
 */
@ConditionalOnGatewayRole
@Component
public class InferenceProxy
    implements BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> {
  static final String PREFIX = "/openai/";
  static final String REQUEST_ID = "X-Request-Id";
  private static final Logger log = LoggerFactory.getLogger(InferenceProxy.class);

  /** Routes whose body must name the deployment's model. */
  private static final Set<String> MODEL_ROUTES =
      Set.of("chat/completions", "completions", "embeddings");

  /** Hop-by-hop headers, and ones this proxy sets itself; never relayed. */
  private static final Set<String> NOT_RELAYED = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);

  static {
    NOT_RELAYED.addAll(
        Set.of(
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            REQUEST_ID));
  }

  private final ApiKeyCache keys;
  private final RoutingTable routes;
  private final LoadReporter reporter;
  private final UsageSink usage;
  private final GantryProperties.Gateway settings;
  private final Clock clock;
  private final HttpClient client;

  public InferenceProxy(
      ApiKeyCache keys,
      RoutingTable routes,
      LoadReporter reporter,
      UsageSink usage,
      GantryProperties properties,
      Clock clock) {
    this.keys = keys;
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

  /** Whether a request is for this proxy; checked by Reactor Netty before WebFlux sees it. */
  static boolean handles(HttpServerRequest request) {
    return request.uri().startsWith(PREFIX);
  }

  @Override
  public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
    var call =
        Call.parse(request.uri(), RequestIds.of(header(request, REQUEST_ID)), clock.millis());
    response.header(REQUEST_ID, call.requestId);
    return handle(request, response, call)
        .onErrorResume(InferenceException.class, e -> answerError(response, call, e))
        .onErrorResume(
            e -> !(e instanceof InferenceException) && !response.hasSentHeaders(),
            e -> {
              log.error("Inference request {} failed", call.requestId, e);
              return answerError(response, call, InferenceException.internal());
            })
        .doOnError(e -> call.failure = e)
        .doFinally(signal -> usage.record(call, signal, response.status().code(), clock.millis()));
  }

  private static String header(HttpServerRequest request, CharSequence name) {
    return request.requestHeaders().get(name);
  }

  private Mono<Void> handle(HttpServerRequest request, HttpServerResponse response, Call call) {
    String authorization = header(request, HttpHeaderNames.AUTHORIZATION);
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Mono.error(InferenceException.unauthorized());
    }
    var key = keys.authenticate(authorization.substring(7).trim()).orElse(null);
    if (key == null) {
      return Mono.error(InferenceException.unauthorized());
    }
    if (call.deploymentId == null) {
      return Mono.error(InferenceException.notFound());
    }
    DeploymentRoute route = routes.find(call.deploymentId);
    if (route == null || !route.tenantId().equals(key.tenantId())) {
      return Mono.error(InferenceException.notFound());
    }
    call.route = route;
    if (request.method() == HttpMethod.GET && call.rest.equals("models")) {
      return models(response, route);
    }
    long declared = contentLength(request);
    if (declared > settings.maxBodyBytes()) {
      return Mono.error(InferenceException.tooLarge());
    }
    return request
        .receive()
        .collect(
            () ->
                new BodyBuffer(
                    declared, settings.maxBodyBytes(), limit -> InferenceException.tooLarge()),
            BodyBuffer::append)
        .flatMap(body -> admitAndForward(request, response, call, route, body.bytes()));
  }

  private static long contentLength(HttpServerRequest request) {
    String value = header(request, HttpHeaderNames.CONTENT_LENGTH);
    if (value == null) {
      return -1;
    }
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private Mono<Void> admitAndForward(
      HttpServerRequest request,
      HttpServerResponse response,
      Call call,
      DeploymentRoute route,
      byte[] body) {
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
        .flatMap(lease -> forward(request, response, call, lease, body, true))
        .doOnDiscard(Lease.class, Lease::release);
  }

  /** Relays the request to the lease's worker; a refused connection is retried once elsewhere. */
  private Mono<Void> forward(
      HttpServerRequest request,
      HttpServerResponse response,
      Call call,
      Lease lease,
      byte[] body,
      boolean mayRetry) {
    call.workerId = lease.upstream.workerId;
    String uri = lease.upstream.baseUrl + call.upstreamPath + call.query;
    String contentType = header(request, HttpHeaderNames.CONTENT_TYPE);
    String accept = header(request, HttpHeaderNames.ACCEPT);
    return client
        .request(request.method())
        .uri(uri)
        .send(
            (req, out) -> {
              // Only what the engine needs: never the caller's Gantry key.
              req.header(
                  HttpHeaderNames.CONTENT_TYPE,
                  contentType == null ? HttpHeaderValues.APPLICATION_JSON : contentType);
              if (accept != null) {
                req.header(HttpHeaderNames.ACCEPT, accept);
              }
              req.header(REQUEST_ID, call.requestId);
              return body.length == 0
                  ? out
                  : out.send(Mono.fromSupplier(() -> Unpooled.wrappedBuffer(body)));
            })
        .response((upstream, content) -> relay(response, call, upstream, content))
        .then()
        .doFinally(signal -> lease.release())
        .onErrorResume(
            e -> !response.hasSentHeaders(),
            e ->
                afterFailure(
                    e,
                    call,
                    lease,
                    mayRetry,
                    other -> forward(request, response, call, other, body, false)));
  }

  /**
   * What a failed worker call becomes: a request that never reached its worker is retried once on
   * another (never on the same one, which is kept out of routing for a while); anything else is the
   * error table's answer.
   */
  private <T> Mono<T> afterFailure(
      Throwable e, Call call, Lease lease, boolean mayRetry, Function<Lease, Mono<T>> retry) {
    if (!unreachable(e)) {
      return Mono.error(failure(e, lease, call));
    }
    lease.route.markUnreachable(lease.upstream, settings.unreachableCooldown().toMillis());
    Lease other = mayRetry ? lease.route.tryAcquireOther(lease.upstream) : null;
    log.warn(
        "Worker {} unreachable for request {}{}: {}",
        lease.upstream.workerId,
        call.requestId,
        other == null ? "" : ", retrying on " + other.upstream.workerId,
        e.toString());
    return other == null ? Mono.error(InferenceException.unreachable()) : retry.apply(other);
  }

  private static boolean unreachable(Throwable e) {
    return e instanceof ConnectException
        || e instanceof io.netty.channel.ConnectTimeoutException
        || e.getCause() instanceof ConnectException;
  }

  /** Copies the worker's status, headers and body; a worker's 5xx becomes the gateway's 502. */
  private Mono<Void> relay(
      HttpServerResponse response, Call call, HttpClientResponse upstream, ByteBufFlux content) {
    HttpResponseStatus status = upstream.status();
    if (status.code() >= 500) {
      log.warn("Worker {} answered {} to request {}", call.workerId, status, call.requestId);
      return content.then(Mono.error(InferenceException.badGateway()));
    }
    response.status(status);
    var headers = response.responseHeaders();
    for (Map.Entry<String, String> entry : upstream.responseHeaders()) {
      if (!NOT_RELAYED.contains(entry.getKey())) {
        headers.add(entry.getKey(), entry.getValue());
      }
    }
    String contentType = upstream.responseHeaders().get(HttpHeaderNames.CONTENT_TYPE);
    boolean eventStream = contentType != null && contentType.startsWith("text/event-stream");
    var meter = call.meter;
    Flux<ByteBuf> body =
        content
            .retain()
            // The server cancels the relay when the client goes away.
            .doOnCancel(() -> call.clientLeft = true)
            .doOnNext(buf -> meter.observe(buf, eventStream));
    // A stream is flushed per chunk the worker wrote, so an SSE event is never held back.
    return (eventStream ? response.send(body, buf -> true) : response.send(body)).then();
  }

  /**
   * Runs an async job's request: the same tenant check, admission queue, concurrency limit, demand
   * reports, retry on an unreachable worker and usage record as a synchronous request, with the
   * worker's answer read into memory (up to {@code maxBytes}). Fails with an {@link
   * InferenceException} carrying the status a synchronous call would have got.
   *
   * @param onFetched called when the request got a worker slot
   * @param onProcessing called when the request is on its way to the worker
   * @param responseTimeout longest silence from the worker (a job's whole answer comes at once)
   */
  public Mono<BufferedAnswer> callBuffered(
      String tenantId,
      String deploymentId,
      String route,
      byte[] body,
      String requestId,
      Runnable onFetched,
      Runnable onProcessing,
      long maxBytes,
      Duration responseTimeout) {
    DeploymentRoute deployment = routes.find(deploymentId);
    if (deployment == null || !deployment.tenantId().equals(tenantId)) {
      return Mono.error(InferenceException.notFound());
    }
    var call = Call.job(deploymentId, route, requestId, clock.millis());
    call.route = deployment;
    int[] answered = {0};
    return deployment
        .admit(() -> reporter.queued(deployment))
        .flatMap(
            lease -> {
              onFetched.run();
              return exchangeBuffered(
                  call, lease, body, true, onProcessing, maxBytes, responseTimeout);
            })
        .doOnDiscard(Lease.class, Lease::release)
        .doOnNext(answer -> answered[0] = answer.status())
        .doOnError(
            e -> {
              call.failure = e;
              answered[0] = e instanceof InferenceException ie ? ie.status().value() : 500;
            })
        .doFinally(signal -> usage.record(call, signal, answered[0], clock.millis()));
  }

  private Mono<BufferedAnswer> exchangeBuffered(
      Call call,
      Lease lease,
      byte[] body,
      boolean mayRetry,
      Runnable onSend,
      long maxBytes,
      Duration responseTimeout) {
    call.workerId = lease.upstream.workerId;
    return client
        .post()
        .uri(lease.upstream.baseUrl + call.upstreamPath)
        .send(
            (req, out) -> {
              req.header(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
              req.header(REQUEST_ID, call.requestId);
              req.responseTimeout(responseTimeout);
              onSend.run();
              return out.send(Mono.fromSupplier(() -> Unpooled.wrappedBuffer(body)));
            })
        .response(
            (upstream, content) -> {
              int status = upstream.status().code();
              if (status >= 500) {
                log.warn("Worker {} answered {} to job {}", call.workerId, status, call.requestId);
                return content.then(Mono.error(InferenceException.badGateway()));
              }
              String type = upstream.responseHeaders().get(HttpHeaderNames.CONTENT_TYPE);
              var meter = call.meter;
              return content
                  .doOnNext(buf -> meter.observe(buf, false))
                  .collect(
                      () -> new BodyBuffer(-1, maxBytes, this::resultTooLarge), BodyBuffer::append)
                  .map(b -> new BufferedAnswer(status, type, b.bytes()));
            })
        .single()
        .doFinally(signal -> lease.release())
        .onErrorResume(
            e ->
                afterFailure(
                    e,
                    call,
                    lease,
                    mayRetry,
                    other ->
                        exchangeBuffered(
                            call, other, body, false, onSend, maxBytes, responseTimeout)));
  }

  private InferenceException resultTooLarge(long limit) {
    return new InferenceException(
        HttpStatus.BAD_GATEWAY,
        "The worker's answer is larger than the " + limit + "-byte limit for async results");
  }

  /** The error table's answer for a failed worker call that is not retried. */
  private static InferenceException failure(Throwable e, Lease lease, Call call) {
    if (e instanceof InferenceException ie) {
      return ie;
    }
    if (e instanceof ReadTimeoutException) {
      return new InferenceException(
          HttpStatus.GATEWAY_TIMEOUT, "Inference timed out, please retry");
    }
    log.warn(
        "Worker {} failed request {}: {}", lease.upstream.workerId, call.requestId, e.toString());
    return InferenceException.badGateway();
  }

  /** A worker's whole answer to an async job. */
  public record BufferedAnswer(int status, String contentType, byte[] body) {}

  /** {@code GET /v1/models}, answered from the routing table without waking a worker. */
  private Mono<Void> models(HttpServerResponse response, DeploymentRoute route) {
    var spec = route.spec();
    String body =
        "{\"object\":\"list\",\"data\":[{\"id\":"
            + RequestFields.quote(spec.model())
            + ",\"object\":\"model\",\"created\":0,\"owned_by\":\"gantry\"}]}";
    return send(response, HttpResponseStatus.OK, body);
  }

  private static Mono<Void> send(
      HttpServerResponse response, HttpResponseStatus status, String json) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    response
        .status(status)
        .header(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(bytes.length));
    return response.sendByteArray(Mono.just(bytes)).then();
  }

  private Mono<Void> answerError(HttpServerResponse response, Call call, InferenceException e) {
    if (response.hasSentHeaders()) {
      // The worker's response already started: nothing to do but end the connection.
      return Mono.error(e);
    }
    response.responseHeaders().clear();
    response.header(REQUEST_ID, call.requestId);
    String retryAfter = InferenceException.retryAfterSeconds(e.status());
    if (retryAfter != null) {
      response.header(HttpHeaderNames.RETRY_AFTER, retryAfter);
    }
    if (e.status() == HttpStatus.UNAUTHORIZED) {
      response.header(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
    }
    return send(
        response,
        HttpResponseStatus.valueOf(e.status().value()),
        ErrorBodies.openAi(e.status(), e.getMessage()));
  }

  /** A request body read into one array, refused as soon as it passes the size limit. */
  private static final class BodyBuffer {
    private final long limit;
    private final LongFunction<InferenceException> tooLarge;
    private byte[] bytes;
    private int length;

    BodyBuffer(long declared, long limit, LongFunction<InferenceException> tooLarge) {
      this.limit = limit;
      this.tooLarge = tooLarge;
      this.bytes = new byte[declared > 0 ? (int) Math.min(declared, limit) : 256];
    }

    void append(ByteBuf buf) {
      int n = buf.readableBytes();
      if (length + (long) n > limit) {
        throw tooLarge.apply(limit);
      }
      if (length + n > bytes.length) {
        bytes =
            Arrays.copyOf(bytes, (int) Math.min(limit, Math.max(length + n, 2L * bytes.length)));
      }
      buf.getBytes(buf.readerIndex(), bytes, length, n);
      length += n;
    }

    byte[] bytes() {
      return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
    }
  }

  /** One inference request, as it goes through the proxy. */
  static final class Call {
    final String deploymentId;
    final String rest;

    /** The path called on the worker. */
    final String upstreamPath;

    /** The query string with its {@code ?}, or empty. */
    final String query;

    final String requestId;
    final long startedAtMillis;
    final UsageMeter meter = new UsageMeter();
    DeploymentRoute route;
    String workerId;
    boolean streamed;
    Throwable failure;
    volatile boolean clientLeft;

    private Call(
        String deploymentId,
        String rest,
        String upstreamPath,
        String query,
        String requestId,
        long startedAtMillis) {
      this.deploymentId = deploymentId;
      this.rest = rest;
      this.upstreamPath = upstreamPath;
      this.query = query;
      this.requestId = requestId;
      this.startedAtMillis = startedAtMillis;
    }

    /** {@code /openai/{id}/v1/{rest}[?query]}; a path of another shape has no deployment id. */
    static Call parse(String uri, String requestId, long now) {
      int q = uri.indexOf('?');
      String path = q < 0 ? uri : uri.substring(0, q);
      String query = q < 0 ? "" : uri.substring(q);
      int idEnd = path.indexOf('/', PREFIX.length());
      if (idEnd > PREFIX.length() && path.startsWith("/v1/", idEnd)) {
        String rest = path.substring(idEnd + 4);
        if (!rest.isEmpty() && !rest.contains("..")) {
          return new Call(
              path.substring(PREFIX.length(), idEnd), rest, "/v1/" + rest, query, requestId, now);
        }
      }
      return new Call(null, "", "", "", requestId, now);
    }

    /** An async job's request: {@code route} is the path called on the worker. */
    static Call job(String deploymentId, String route, String requestId, long now) {
      return new Call(deploymentId, route, "/" + route, "", requestId, now);
    }
  }
}
