package dev.gantry.gateway.inference;

import dev.gantry.gateway.auth.BearerKeys;
import dev.gantry.gateway.auth.FailedAuthLimiter;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.config.GantryProperties;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * The OpenAI-compatible data plane, {@code /openai/{deployment_id}/v1/**}, and the worker calls of
 * async jobs: the steps a request goes through ({@link RequestChecks}, {@link Admission}, {@link
 * UpstreamCall}, {@link UsageSink}) and what they share (the body budget, the worker connection
 * pools, the settings), wired once.
 *
 * <p>A synchronous request is taken off its server connection by an {@link InferenceConnection}
 * right after the HTTP codec and run by an {@link Exchange}, the request's state machine, on the
 * connection's event loop: no Reactor Netty request handling, no WebFlux exchange, no thread hop.
 * An async job's call ({@link #callBuffered}) is run by a {@link BufferedCall} through the same
 * steps on the job event loop.
 */
@ConditionalOnGatewayRole
@Component
public class InferenceProxy implements AutoCloseable, MeterBinder {
  static final String REQUEST_ID = "X-Request-Id";
  private static final Logger log = LoggerFactory.getLogger(InferenceProxy.class);

  private final RoutingTable routes;
  private final UsageSink usage;
  private final GantryProperties.Gateway settings;
  private final Clock clock;
  private final LongSupplier nanoClock;
  private final WorkerConnections connections;
  private final BodyBudget budget;
  private final RequestChecks checks;
  private final Admission admission;
  private final UpstreamCall.Timeouts timeouts;
  private final InferenceTracing tracing;
  private final AtomicInteger inFlight = new AtomicInteger();

  /** The event loop async jobs' worker calls run on (synchronous ones run on their client's). */
  private final MultiThreadIoEventLoopGroup jobLoop;

  private volatile boolean closing;

  @Autowired
  public InferenceProxy(
      ApiKeyCache keys,
      FailedAuthLimiter failedAuth,
      RoutingTable routes,
      LoadReporter reporter,
      UsageSink usage,
      GantryProperties properties,
      Clock clock,
      ObjectProvider<OpenTelemetry> openTelemetry) {
    this(
        keys,
        failedAuth,
        routes,
        reporter,
        usage,
        properties,
        clock,
        new UpstreamPool(properties.gateway().connectTimeout()),
        System::nanoTime,
        // Only configured when tracing is on (app's TracingConfiguration).
        InferenceTracing.of(openTelemetry.getIfAvailable()));
  }

  /** With the worker connections, the timer clock and the tracing given (tests). */
  InferenceProxy(
      ApiKeyCache keys,
      FailedAuthLimiter failedAuth,
      RoutingTable routes,
      LoadReporter reporter,
      UsageSink usage,
      GantryProperties properties,
      Clock clock,
      WorkerConnections connections,
      LongSupplier nanoClock,
      InferenceTracing tracing) {
    this.routes = routes;
    this.tracing = tracing;
    this.usage = usage;
    this.settings = properties.gateway();
    this.clock = clock;
    this.nanoClock = nanoClock;
    this.connections = connections;
    this.budget = BodyBudget.of(settings, Runtime.getRuntime().maxMemory());
    this.checks =
        new RequestChecks(
            () -> closing,
            new BearerKeys(keys, failedAuth),
            routes,
            budget,
            settings.maxBodyBytes(),
            new RequestLimits(properties.limits()));
    this.admission = new Admission(reporter, settings.unreachableCooldown(), clock);
    this.timeouts =
        new UpstreamCall.Timeouts(
            settings.responseTimeout().toNanos(), settings.firstByteTimeout().toNanos(), true);
    this.jobLoop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    log.info(
        "Inference request bodies held in memory are bounded to {} bytes in all, {} per tenant,"
            + " {} per deployment",
        budget.totalLimit(),
        budget.tenantLimit(),
        budget.deploymentLimit());
  }

  @Override
  public void close() {
    connections.close();
    jobLoop.shutdownGracefully(0, 2, TimeUnit.SECONDS);
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
    Gauge.builder(
            "gantry.inference.worker.connections.active", connections, WorkerConnections::leased)
        .description("Worker connections carrying a request now")
        .register(registry);
    Gauge.builder("gantry.inference.worker.connection.pools", connections, WorkerConnections::size)
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

  /** The state machine of a new request on a client connection; the connection starts it. */
  Exchange exchange(ChannelHandlerContext ctx, HttpRequest request, InferenceConnection on) {
    inFlight.incrementAndGet();
    var call =
        Call.parse(request.uri(), RequestIds.of(request.headers().get(REQUEST_ID)), clock.millis());
    return new Exchange(this, ctx, on, request, call);
  }

  /** The worker call of a synchronous request, on its client connection's event loop. */
  UpstreamCall upstreamCall(
      Channel client,
      UpstreamCall.Receiver receiver,
      Call call,
      HttpMethod method,
      String contentType,
      String accept,
      byte[] body) {
    return new UpstreamCall(
        connections,
        admission,
        client.eventLoop(),
        client.getClass(),
        new UpstreamCall.Request(
            method,
            call.upstreamPath + call.query,
            contentType,
            accept,
            call.requestId,
            body,
            call.streamed),
        timeouts,
        call.meter,
        receiver,
        nanoClock);
  }

  /** A synchronous request ended with {@code status}: its usage record. */
  void ended(Call call, int status) {
    inFlight.decrementAndGet();
    usage.record(call, status);
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

  /** The gateway clock's time, for what a request learns as it goes (its first answer byte). */
  long nowMillis() {
    return clock.millis();
  }

  InferenceTracing tracing() {
    return tracing;
  }

  RequestChecks checks() {
    return checks;
  }

  Admission admission() {
    return admission;
  }

  WorkerConnections connections() {
    return connections;
  }

  UsageSink usage() {
    return usage;
  }

  BodyBudget budget() {
    return budget;
  }

  LongSupplier nanoClock() {
    return nanoClock;
  }

  long bodyTimeoutNanos() {
    return settings.bodyTimeout().toNanos();
  }

  /** Completes once the routing table has been read again, after this call. */
  CompletableFuture<Void> routesRefreshed() {
    return routes.refreshed();
  }

  /** The body of {@code GET /v1/models}, answered from the routing table without a worker. */
  String modelsBody(DeploymentRoute route) {
    return "{\"object\":\"list\",\"data\":[{\"id\":"
        + RequestFields.quote(route.spec().model())
        + ",\"object\":\"model\",\"created\":0,\"owned_by\":\"gantry\"}]}";
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
    DeploymentRoute route = deploymentId == null ? null : checks.resolve(deploymentId, tenantId);
    BodyBudget.Hold hold = checks.bodyHold(tenantId, route);
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

  /**
   * Runs an async job's request: the same tenant check, body checks, admission queue, concurrency
   * limit, demand reports, worker call with its retries, failure mapping and usage record as a
   * synchronous request, with the worker's answer read into memory (up to {@code maxBytes}). Fails
   * with an {@link InferenceException} carrying the status a synchronous call would have got.
   *
   * @param route the worker route, {@code v1/...}
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
    var call = Call.job(deploymentId, route, requestId, clock.millis());
    EventLoop loop = jobLoop.next();
    return BufferedCall.of(
        this,
        loop,
        NioSocketChannel.class,
        call,
        tenantId,
        body,
        onFetched,
        onProcessing,
        maxBytes,
        responseTimeout);
  }

  /** A worker's whole answer to an async job. */
  public record BufferedAnswer(int status, String contentType, byte[] body) {}
}
