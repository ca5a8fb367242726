package dev.gantry.gateway.inference;

import dev.gantry.gateway.auth.FailedAuthLimiter;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.config.GantryProperties;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.timeout.ReadTimeoutException;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.LongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The OpenAI-compatible data plane, {@code /openai/{deployment_id}/v1/**}: API key, tenant and
 * model checks against in-memory tables, admission (a free slot on the least loaded healthy worker,
 * or the deployment's FIFO queue), then a relay to the worker that keeps its status and body and
 * flushes every chunk of a stream as it arrives.
 *
 * <p>Synchronous requests are taken off each server connection by an {@link InferenceConnection}
 * right after the HTTP codec and relayed at the Netty level by a {@link Relay}, over keep-alive
 * worker connections pooled per event loop ({@link UpstreamPool}): no Reactor Netty request or
 * client operations, no WebFlux exchange, no thread hop. Async jobs ({@link #callBuffered}) go
 * through the same checks and admission with Reactor Netty's client.
 */
@ConditionalOnGatewayRole
@Component
public class InferenceProxy implements AutoCloseable, MeterBinder {
  static final String PREFIX = "/openai/";
  static final String REQUEST_ID = "X-Request-Id";
  private static final Logger log = LoggerFactory.getLogger(InferenceProxy.class);

  /** Routes whose body must name the deployment's model. */
  private static final Set<String> MODEL_ROUTES =
      Set.of("chat/completions", "completions", "embeddings");

  /** Hop-by-hop headers, and ones this proxy sets itself; never relayed. */
  static final Set<String> NOT_RELAYED = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);

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
  private final FailedAuthLimiter failedAuth;
  private final RoutingTable routes;
  private final LoadReporter reporter;
  private final UsageSink usage;
  private final GantryProperties.Gateway settings;
  private final Clock clock;
  private final HttpClient client;
  private final UpstreamPool pool;
  private final RequestLimits limits;
  private final long responseTimeoutNanos;
  private final long firstByteTimeoutNanos;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final BodyBudget budget;
  private volatile boolean closing;

  public InferenceProxy(
      ApiKeyCache keys,
      FailedAuthLimiter failedAuth,
      RoutingTable routes,
      LoadReporter reporter,
      UsageSink usage,
      GantryProperties properties,
      Clock clock) {
    this.keys = keys;
    this.failedAuth = failedAuth;
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
    this.pool = new UpstreamPool(settings.connectTimeout());
    this.limits = new RequestLimits(properties.limits());
    this.responseTimeoutNanos = settings.responseTimeout().toNanos();
    this.budget = BodyBudget.of(settings, Runtime.getRuntime().maxMemory());
    log.info(
        "Inference request bodies held in memory are bounded to {} bytes in all, {} per tenant,"
            + " {} per deployment",
        budget.totalLimit(),
        budget.tenantLimit(),
        budget.deploymentLimit());
    this.firstByteTimeoutNanos = settings.firstByteTimeout().toNanos();
  }

  @Override
  public void close() {
    pool.close();
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("gantry.inference.requests.active", inFlight, AtomicInteger::get)
        .description("Synchronous inference requests being answered now")
        .register(registry);
    Gauge.builder("gantry.inference.requests.queued", routes, InferenceProxy::totalQueued)
        .description("Inference requests waiting for a worker with room, all deployments")
        .register(registry);
    Gauge.builder("gantry.inference.body.bytes", budget, BodyBudget::held)
        .description("Request body bytes held by synchronous inference requests now")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("gantry.inference.worker.connections.active", pool, UpstreamPool::leased)
        .description("Worker connections carrying a synchronous request now")
        .register(registry);
    Gauge.builder("gantry.inference.worker.connection.pools", pool, UpstreamPool::size)
        .description("Keep-alive worker connection pools (one per event loop and worker)")
        .register(registry);
  }

  private static int totalQueued(RoutingTable routes) {
    int n = 0;
    for (DeploymentRoute route : routes.all()) {
      n += route.demand().queued();
    }
    return n;
  }

  /** Whether a request is for this proxy; checked on the connection before WebFlux sees it. */
  static boolean handles(String uri) {
    return uri.startsWith(PREFIX);
  }

  /** A relay for a new request on a client connection; the connection starts it. */
  Relay relay(ChannelHandlerContext ctx, HttpRequest request, InferenceConnection connection) {
    inFlight.incrementAndGet();
    var call =
        Call.parse(request.uri(), RequestIds.of(request.headers().get(REQUEST_ID)), clock.millis());
    return new Relay(this, ctx, connection, request, call);
  }

  /** Requests being answered now. */
  int inFlight() {
    return inFlight.get();
  }

  boolean isClosing() {
    return closing;
  }

  /** From now on new requests are answered 503, while the ones under way finish. */
  void closing() {
    closing = true;
  }

  /**
   * The checks on a request's head: API key, deployment (of the caller's tenant) and the gateway
   * not shutting down. Sets the call's route; the refusal to answer, or null.
   */
  InferenceException checkHead(HttpHeaders headers, Call call, SocketAddress client) {
    if (closing) {
      return new InferenceException(
          HttpStatus.SERVICE_UNAVAILABLE, "The gateway is shutting down, please retry");
    }
    String authorization = headers.get(HttpHeaderNames.AUTHORIZATION);
    var key =
        authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)
            ? null
            : keys.authenticate(authorization.substring(7).trim()).orElse(null);
    if (key == null) {
      // Only failures are limited: a valid key behind the same address (a NAT, a load balancer)
      // as someone failing is still served.
      long wait = failedAuth.retryAfterSeconds(client);
      if (wait > 0) {
        return InferenceException.tooManyFailedAttempts(wait);
      }
      failedAuth.failed(client);
      return InferenceException.unauthorized();
    }
    if (call.deploymentId == null) {
      return InferenceException.notFound();
    }
    call.tenantId = key.tenantId();
    DeploymentRoute route = routes.find(call.deploymentId);
    if (route == null) {
      // Maybe running since the last read of the table: the relay looks again before a 404.
      call.routePending = true;
      return null;
    }
    if (!route.tenantId().equals(key.tenantId())) {
      return InferenceException.notFound();
    }
    call.route = route;
    return null;
  }

  /** Completes once the routing table has been read again, after this call. */
  CompletableFuture<Void> routesRefreshed() {
    return routes.refreshed();
  }

  /**
   * Sets the route of a call whose deployment was not in the table; the 404 when it still is not.
   */
  InferenceException resolveRoute(Call call) {
    call.routePending = false;
    DeploymentRoute route = routes.find(call.deploymentId);
    if (route == null || !route.tenantId().equals(call.tenantId)) {
      return InferenceException.notFound();
    }
    call.route = route;
    return null;
  }

  /** The checks on a request's body: JSON where the route needs it, and the deployment's model. */
  InferenceException checkBody(Call call, byte[] body) {
    var fields = RequestFields.read(body);
    call.streamed = fields.stream();
    call.sizes = fields.sizes();
    if (MODEL_ROUTES.contains(call.rest) && !fields.json()) {
      return new InferenceException(
          HttpStatus.BAD_REQUEST, "The request body must be a JSON object");
    }
    if (MODEL_ROUTES.contains(call.rest) || fields.model() != null) {
      String model = call.route.spec().model();
      if (fields.model() == null) {
        return new InferenceException(
            HttpStatus.BAD_REQUEST, "model is required; this deployment serves '" + model + "'");
      }
      if (!fields.model().equals(model)) {
        return new InferenceException(
            HttpStatus.NOT_FOUND,
            "The model '"
                + fields.model()
                + "' is not served by this deployment; it serves '"
                + model
                + "'");
      }
    }
    return limits.check(call.route.spec(), call.rest, fields.sizes());
  }

  /** The body sent to the worker: the request's, with its output length capped if it set none. */
  byte[] outgoingBody(Call call, byte[] body) {
    return limits.capped(call.route.spec(), call.rest, body, call.sizes);
  }

  long maxBodyBytes() {
    return settings.maxBodyBytes();
  }

  /**
   * The buffer for a request's body, counted against the body budget.
   *
   * @throws InferenceException 429 when the budget cannot take the declared body
   */
  BodyBuffer bodyBuffer(long declared, BodyBudget.Hold hold) {
    return new BodyBuffer(
        declared, settings.maxBodyBytes(), limit -> InferenceException.tooLarge(), hold);
  }

  /**
   * A new, empty share of the body budget for the call's request. A call whose deployment is not in
   * the routing table yet (looked up again once its body is in) is held against its tenant and the
   * total only: its deployment's count cannot be known before then.
   */
  BodyBudget.Hold bodyHold(Call call) {
    if (call.route == null) {
      return budget.hold(call.tenantId, new AtomicLong());
    }
    return budget.hold(call.route.tenantId(), call.route.bodyBytes);
  }

  BodyBudget budget() {
    return budget;
  }

  /**
   * Reserves {@code bytes} of the body budget for an async job's body held in memory (a submit
   * being read, a job's input while it runs), against the tenant, the deployment (when it is routed
   * here) and the total.
   *
   * @return what gives the bytes back (call it once), or null when a bound has no room: then the
   *     caller answers 429, or waits, without holding the body
   */
  public Runnable reserveBody(String tenantId, String deploymentId, long bytes) {
    DeploymentRoute route = deploymentId == null ? null : routes.find(deploymentId);
    var counter =
        route != null && route.tenantId().equals(tenantId) ? route.bodyBytes : new AtomicLong();
    BodyBudget.Hold hold = budget.hold(tenantId, counter);
    if (!hold.reserve(bytes)) {
      return null;
    }
    var once = new AtomicBoolean();
    return () -> {
      if (once.compareAndSet(false, true)) {
        hold.releaseAll();
      }
    };
  }

  long responseTimeoutNanos() {
    return responseTimeoutNanos;
  }

  long bodyTimeoutNanos() {
    return settings.bodyTimeout().toNanos();
  }

  /** How long a streamed request waits for the worker's first byte. */
  long firstByteTimeoutNanos() {
    return firstByteTimeoutNanos;
  }

  /**
   * Keeps a worker that failed a request in a way that says it is in trouble (gone, or silent) out
   * of routing for the cooldown, before its slot is freed: requests waiting in the queue must not
   * be handed a slot on it.
   */
  void eject(Lease lease, Call call, Throwable cause) {
    lease.route.markUnreachable(lease.upstream, settings.unreachableCooldown().toMillis());
    log.warn(
        "Worker {} failed request {} ({}): no new requests for {}",
        lease.upstream.workerId,
        call.requestId,
        cause.toString(),
        settings.unreachableCooldown());
  }

  long nowMillis() {
    return clock.millis();
  }

  UpstreamPool pool() {
    return pool;
  }

  /** A request of {@code route} is the first to wait in its queue. */
  void queued(DeploymentRoute route) {
    reporter.queued(route);
  }

  /** A relayed request ended with {@code status}: its usage record. */
  void ended(Call call, int status) {
    inFlight.decrementAndGet();
    usage.record(call, status, clock.millis());
  }

  /**
   * After a failed worker call: a request that never reached its worker gets a slot on another
   * (never the same one, which is kept out of routing for a while), at most once. Null when it is
   * not retried; then {@link #failureOf} is the answer.
   */
  Lease retryElsewhere(Throwable e, Call call, Lease lease, boolean mayRetry) {
    if (!unreachable(e)) {
      return null;
    }
    lease.route.markUnreachable(lease.upstream, settings.unreachableCooldown().toMillis());
    Lease other = mayRetry ? lease.route.tryAcquireOther(lease.upstream) : null;
    log.warn(
        "Worker {} unreachable for request {}{}: {}",
        lease.upstream.workerId,
        call.requestId,
        other == null ? "" : ", retrying on " + other.upstream.workerId,
        e.toString());
    return other;
  }

  /** The one retry of an async job's call, the same way as {@link #retryElsewhere}. */
  private <T> Mono<T> afterFailure(
      Throwable e, Call call, Lease lease, boolean mayRetry, Function<Lease, Mono<T>> retry) {
    Lease other = retryElsewhere(e, call, lease, mayRetry);
    return other == null ? Mono.error(failureOf(e, lease, call)) : retry.apply(other);
  }

  static boolean unreachable(Throwable e) {
    return e instanceof ConnectException
        || e instanceof io.netty.channel.ConnectTimeoutException
        || e.getCause() instanceof ConnectException;
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
    // The same limits as a synchronous request; checked here too, for jobs stored before them.
    String generation = route.startsWith("v1/") ? route.substring(3) : route;
    var sizes = RequestFields.read(body).sizes();
    InferenceException refused = limits.check(deployment.spec(), generation, sizes);
    if (refused != null) {
      return Mono.error(refused);
    }
    byte[] sent = limits.capped(deployment.spec(), generation, body, sizes);
    int[] answered = {0};
    return deployment
        .admit(() -> reporter.queued(deployment))
        .flatMap(
            lease -> {
              onFetched.run();
              return exchangeBuffered(
                  call, lease, sent, true, onProcessing, maxBytes, responseTimeout);
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
  static InferenceException failureOf(Throwable e, Lease lease, Call call) {
    if (unreachable(e)) {
      return InferenceException.unreachable();
    }
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

  /** The body of {@code GET /v1/models}, answered from the routing table without a worker. */
  String modelsBody(DeploymentRoute route) {
    return "{\"object\":\"list\",\"data\":[{\"id\":"
        + RequestFields.quote(route.spec().model())
        + ",\"object\":\"model\",\"created\":0,\"owned_by\":\"gantry\"}]}";
  }

  /**
   * A request body read into one array, refused as soon as it passes the size limit. With a budget
   * hold, the array's whole capacity is counted against the body budget before it is allocated, and
   * a body the budget cannot take is refused (429) before it is buffered.
   */
  static final class BodyBuffer {
    private final long limit;
    private final LongFunction<InferenceException> tooLarge;
    private final BodyBudget.Hold hold;
    private byte[] bytes;
    private int length;

    BodyBuffer(long declared, long limit, LongFunction<InferenceException> tooLarge) {
      this(declared, limit, tooLarge, null);
    }

    BodyBuffer(
        long declared,
        long limit,
        LongFunction<InferenceException> tooLarge,
        BodyBudget.Hold hold) {
      this.limit = limit;
      this.tooLarge = tooLarge;
      this.hold = hold;
      int capacity = declared > 0 ? (int) Math.min(declared, limit) : 256;
      take(capacity);
      this.bytes = new byte[capacity];
    }

    private void take(long n) {
      if (hold != null && !hold.reserve(n)) {
        throw InferenceException.queueFull();
      }
    }

    void append(ByteBuf buf) {
      int n = buf.readableBytes();
      if (length + (long) n > limit) {
        throw tooLarge.apply(limit);
      }
      if (length + n > bytes.length) {
        int capacity = (int) Math.min(limit, Math.max(length + n, 2L * bytes.length));
        take(capacity - bytes.length);
        bytes = Arrays.copyOf(bytes, capacity);
      }
      buf.getBytes(buf.readerIndex(), bytes, length, n);
      length += n;
    }

    byte[] bytes() {
      if (length == bytes.length) {
        return bytes;
      }
      byte[] exact = Arrays.copyOf(bytes, length);
      if (hold != null) {
        hold.release(bytes.length - (long) length);
      }
      bytes = exact;
      return exact;
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

    /** The caller's tenant, once the API key is checked. */
    String tenantId;

    /** The deployment was not in the routing table at the head: looked up again after a read. */
    boolean routePending;

    RequestFields.Sizes sizes = RequestFields.Sizes.NONE;
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
        // The engine decodes what it is sent: a path with anything but plain segments (an encoded
        // '/' or '.', a dot segment, matrix parameters) would be checked here as one route and
        // served there as another, so it has no deployment and is answered 404.
        if (plainSegments(path.substring(PREFIX.length(), idEnd)) && plainSegments(rest)) {
          return new Call(
              path.substring(PREFIX.length(), idEnd), rest, "/v1/" + rest, query, requestId, now);
        }
      }
      return new Call(null, "", "", "", requestId, now);
    }

    /** Segments of ASCII letters, digits, {@code _} and {@code -}, separated by single slashes. */
    static boolean plainSegments(String path) {
      boolean segmentEmpty = true;
      for (int i = 0; i < path.length(); i++) {
        char c = path.charAt(i);
        if (c == '/') {
          if (segmentEmpty) {
            return false;
          }
          segmentEmpty = true;
        } else if ((c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '_'
            || c == '-') {
          segmentEmpty = false;
        } else {
          return false;
        }
      }
      return !segmentEmpty;
    }

    /** An async job's request: {@code route} is the path called on the worker. */
    static Call job(String deploymentId, String route, String requestId, long now) {
      return new Call(deploymentId, route, "/" + route, "", requestId, now);
    }
  }
}
