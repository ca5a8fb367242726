package dev.gantry.gateway.inference;

import dev.gantry.gateway.error.ErrorBodies;
import dev.gantry.gateway.inference.InferenceProxy.BodyBuffer;
import dev.gantry.gateway.inference.InferenceProxy.Call;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import reactor.core.Disposable;

/**
 * One {@code /openai/**} request on a client connection, from its head to the last byte of its
 * answer, all on the connection's event loop: the checks, the body (up to the size limit),
 * admission, the worker call on a pooled keep-alive connection of the same event loop, and the
 * relay of the worker's answer (a stream flushed event by event, a whole answer in one write).
 *
 * <p>A client that goes away closes the worker connection at once, so the engine stops generating;
 * a worker that breaks off ends the client's connection; a worker silent for longer than the
 * response timeout gets 504 (or the connection ended, once the answer has started).
 */
final class Relay implements UpstreamHandler.Listener {
  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  private final InferenceProxy proxy;
  private final ChannelHandlerContext ctx;
  private final InferenceConnection connection;
  private final Call call;
  private final HttpMethod method;
  private final String contentType;
  private final String accept;
  private final boolean keepAlive;

  // Everything below is touched on the client connection's event loop only.
  private BodyBuffer body;
  private byte[] requestBody;

  /**
   * This request's share of the body budget: the bytes of {@link #body} or {@link #requestBody}.
   */
  private BodyBudget.Hold bodyHold;

  private long lastBodyNanos;
  private ScheduledFuture<?> bodySilence;

  private boolean receivingBody = true;

  /** An answer (the worker's or an error) has begun; its head is written. */
  private boolean answering;

  private boolean answerWritten;
  private boolean closeAfter;
  private boolean clientGone;
  private boolean ended;
  private int status;

  private Disposable admission;
  private Lease lease;
  private boolean mayRetryElsewhere = true;
  private UpstreamPool.Pool pool;
  private Channel upstream;
  private boolean reusedConnection;
  private boolean retriedClosed;
  private boolean heardFromWorker;
  private HttpResponse workerHead;
  private boolean interim;
  private boolean workerFailed;
  private boolean eventStream;

  /** The worker's answer has a Content-Length (relayed as is): nothing may be added to it. */
  private boolean answerLengthKnown;

  private long lastWorkerNanos;
  private ScheduledFuture<?> silence;

  Relay(
      InferenceProxy proxy,
      ChannelHandlerContext ctx,
      InferenceConnection connection,
      HttpRequest request,
      Call call) {
    this.proxy = proxy;
    this.ctx = ctx;
    this.connection = connection;
    this.call = call;
    HttpHeaders headers = request.headers();
    this.method = request.method();
    this.contentType = headers.get(HttpHeaderNames.CONTENT_TYPE);
    this.accept = headers.get(HttpHeaderNames.ACCEPT);
    // HTTP/1.0 has no chunked encoding: its answers end with the connection.
    this.keepAlive =
        HttpUtil.isKeepAlive(request) && request.protocolVersion().equals(HttpVersion.HTTP_1_1);
  }

  /** Checks the request head; answers at once when it cannot go on, else starts on its body. */
  void start(HttpRequest request) {
    if (request.decoderResult().isFailure()) {
      closeAfter = true;
      answerError(new InferenceException(HttpStatus.BAD_REQUEST, "Malformed HTTP request"));
      return;
    }
    InferenceException refused =
        proxy.checkHead(request.headers(), call, ctx.channel().remoteAddress());
    if (refused != null) {
      // A gateway shutting down ends its connections, so clients move to another one.
      closeAfter |= proxy.isClosing();
      closeAfter |= HttpUtil.is100ContinueExpected(request);
      answerError(refused);
      return;
    }
    if (method == HttpMethod.GET && call.rest.equals("models") && !call.routePending) {
      answer(HttpResponseStatus.OK, proxy.modelsBody(call.route));
      return;
    }
    long declared = HttpUtil.getContentLength(request, -1L);
    if (declared > proxy.maxBodyBytes()) {
      closeAfter = true;
      answerError(InferenceException.tooLarge());
      return;
    }
    bodyHold = proxy.bodyHold(call);
    try {
      // Before 100 Continue and before any of the body is read: a declared body the budget cannot
      // take is refused here, and a client that waits for 100 Continue never sends it.
      body = proxy.bodyBuffer(declared, bodyHold);
    } catch (InferenceException busy) {
      closeAfter = true;
      answerError(busy);
      return;
    }
    lastBodyNanos = System.nanoTime();
    watchBodySilence(proxy.bodyTimeoutNanos());
    if (HttpUtil.is100ContinueExpected(request)) {
      ctx.writeAndFlush(
          new DefaultFullHttpResponse(
              HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
    }
  }

  /**
   * A client that stops sending its body would hold its share of the body budget for as long as it
   * keeps the connection: after the body timeout it is answered 408 and the share let go.
   */
  private void checkBodySilence() {
    bodySilence = null;
    if (!receivingBody || answering || ended) {
      return;
    }
    long quiet = System.nanoTime() - lastBodyNanos;
    long limit = proxy.bodyTimeoutNanos();
    if (quiet < limit) {
      watchBodySilence(limit - quiet);
      return;
    }
    dropRequestBody();
    closeAfter = true;
    answerError(InferenceException.requestTimeout());
  }

  private void watchBodySilence(long delayNanos) {
    bodySilence =
        ctx.executor()
            .schedule(() -> guarded(this::checkBodySilence), delayNanos, TimeUnit.NANOSECONDS);
  }

  boolean receivingBody() {
    return receivingBody;
  }

  /** A part of the request body; the relay owns it. */
  void requestContent(HttpContent content) {
    lastBodyNanos = System.nanoTime();
    if (content.decoderResult().isFailure()) {
      // A malformed body (e.g. broken chunking): the codec reads nothing more on this connection.
      content.release();
      receivingBody = false;
      dropRequestBody();
      closeAfter = true;
      if (!answering) {
        answerError(new InferenceException(HttpStatus.BAD_REQUEST, "Malformed request body"));
      } else if (answerWritten) {
        ctx.close();
      }
      return;
    }
    try {
      if (body != null && !answering) {
        body.append(content.content());
      }
    } catch (InferenceException refused) {
      // Too large, or past the body budget (429): what was buffered is let go at once, and the
      // rest of the body is read and dropped by the lingering close.
      dropRequestBody();
      closeAfter = true;
      answerError(refused);
    } finally {
      content.release();
    }
    if (!(content instanceof LastHttpContent)) {
      return;
    }
    receivingBody = false;
    if (bodySilence != null) {
      bodySilence.cancel(false);
      bodySilence = null;
    }
    if (answering) {
      if (answerWritten) {
        // Also after a refusal that closes the connection: complete() may already have begun a
        // lingering close, which ends here, as nothing more is coming (end() runs once).
        complete();
      }
      return;
    }
    if (body == null) {
      return;
    }
    requestBody = body.bytes();
    body = null;
    if (call.routePending) {
      proxy.routesRefreshed().whenComplete((ignored, error) -> onLoop(this::routeLookedUp));
      return;
    }
    proceed();
  }

  /** The table has been read again since the request came: its deployment is known now, or 404. */
  private void routeLookedUp() {
    if (clientGone || answering) {
      return;
    }
    InferenceException refused = proxy.resolveRoute(call);
    if (refused != null) {
      answerError(refused);
      return;
    }
    if (method == HttpMethod.GET && call.rest.equals("models")) {
      answer(HttpResponseStatus.OK, proxy.modelsBody(call.route));
      return;
    }
    proceed();
  }

  /** The whole body is in and the deployment known: the body checks, then admission. */
  private void proceed() {
    InferenceException refused = proxy.checkBody(call, requestBody);
    if (refused != null) {
      answerError(refused);
      return;
    }
    requestBody = proxy.outgoingBody(call, requestBody);
    DeploymentRoute route = call.route;
    admission =
        route
            .admit(() -> proxy.queued(route))
            .doOnDiscard(Lease.class, Lease::release)
            .subscribe(
                granted -> onLoop(() -> leased(granted)), e -> onLoop(() -> admissionFailed(e)));
  }

  private void onLoop(Runnable task) {
    if (ctx.executor().inEventLoop()) {
      guarded(task);
    } else {
      try {
        ctx.executor().execute(() -> guarded(task));
      } catch (RejectedExecutionException shutDown) {
        releaseLease();
      }
    }
  }

  /** Runs a step; an unexpected failure ends the request with 500 instead of leaving it hanging. */
  private void guarded(Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      log.error("Inference request {} failed", call.requestId, e);
      dropWorkerConnection();
      releaseLease();
      if (!answering && !clientGone) {
        answerError(InferenceException.internal());
      } else if (!clientGone) {
        ctx.close();
      }
    }
  }

  private void leased(Lease granted) {
    if (clientGone || answering) {
      granted.release();
      return;
    }
    lease = granted;
    connect(false);
  }

  private void admissionFailed(Throwable e) {
    if (clientGone || answering) {
      return;
    }
    answerError(e instanceof InferenceException ie ? ie : internal("Admission failed", e));
  }

  private void connect(boolean fresh) {
    Upstream target = lease.upstream;
    call.workerId = target.workerId;
    pool = proxy.pool().poolFor(ctx.channel(), target);
    Future<Channel> acquired = pool.take(fresh);
    if (acquired.isDone()) {
      connected(acquired);
    } else {
      acquired.addListener(f -> guarded(() -> connected(acquired)));
    }
  }

  private void connected(Future<Channel> acquired) {
    if (!acquired.isSuccess()) {
      failed(acquired.cause());
      return;
    }
    Channel ch = acquired.getNow();
    if (clientGone || answering) {
      pool.giveBack(ch);
      return;
    }
    upstream = ch;
    reusedConnection = UpstreamPool.wasIdle(ch);
    heardFromWorker = false;
    UpstreamHandler.of(ch).listener(this);
    Upstream target = lease.upstream;
    var out =
        new DefaultFullHttpRequest(
            HttpVersion.HTTP_1_1,
            method,
            target.basePath + call.upstreamPath + call.query,
            Unpooled.wrappedBuffer(requestBody));
    HttpHeaders headers = out.headers();
    headers.set(HttpHeaderNames.HOST, target.host + ":" + target.port);
    // Only what the engine needs: never the caller's Gantry key.
    headers.set(
        HttpHeaderNames.CONTENT_TYPE,
        contentType == null ? HttpHeaderValues.APPLICATION_JSON : contentType);
    if (accept != null) {
      headers.set(HttpHeaderNames.ACCEPT, accept);
    }
    headers.set(InferenceProxy.REQUEST_ID, call.requestId);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, requestBody.length);
    lastWorkerNanos = System.nanoTime();
    // Restarted per worker call: a retry on another worker gets its own first-byte window.
    cancelSilence();
    watchSilence(silenceLimit());
    ch.writeAndFlush(out)
        .addListener(
            (ChannelFuture f) -> {
              if (!f.isSuccess() && upstream == f.channel()) {
                failed(f.cause());
              }
            });
  }

  @Override
  public void upstreamRead(HttpObject message) {
    heardFromWorker = true;
    lastWorkerNanos = System.nanoTime();
    if (message.decoderResult().isFailure()) {
      // A response this proxy cannot parse: the connection is of no further use.
      Throwable cause = message.decoderResult().cause();
      ReferenceCountUtil.release(message);
      failed(new IOException("Malformed response from the worker: " + cause, cause));
      return;
    }
    if (message instanceof HttpResponse head) {
      head(head);
    }
    if (message instanceof HttpContent content) {
      content(content);
    }
  }

  private void head(HttpResponse head) {
    if (head.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
      interim = true;
      return;
    }
    workerHead = head;
    // A worker that answered has the request: it is never sent again, so its body is not needed.
    dropRequestBody();
    if (head.status().code() >= 500) {
      log.warn("Worker {} answered {} to request {}", call.workerId, head.status(), call.requestId);
      workerFailed = true;
      return;
    }
    var out = new DefaultHttpResponse(HttpVersion.HTTP_1_1, head.status());
    HttpHeaders headers = out.headers();
    for (Map.Entry<String, String> entry : head.headers()) {
      if (!InferenceProxy.NOT_RELAYED.contains(entry.getKey())) {
        headers.add(entry.getKey(), entry.getValue());
      }
    }
    headers.set(InferenceProxy.REQUEST_ID, call.requestId);
    String type = head.headers().get(HttpHeaderNames.CONTENT_TYPE);
    eventStream = type != null && type.startsWith("text/event-stream");
    answerLengthKnown = HttpUtil.isContentLengthSet(out);
    if (!keepAlive) {
      closeAfter = true;
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (!answerLengthKnown) {
      HttpUtil.setTransferEncodingChunked(out, true);
    }
    answering = true;
    status = head.status().code();
    ctx.write(out);
  }

  private void content(HttpContent content) {
    boolean last = content instanceof LastHttpContent;
    if (interim || workerFailed || !answering || clientGone) {
      content.release();
      if (last) {
        if (interim) {
          interim = false;
        } else {
          workerDone();
          if (!clientGone) {
            answerError(InferenceException.badGateway());
          }
        }
      }
      return;
    }
    call.meter.observe(content.content(), eventStream);
    if (last) {
      workerDone();
      ctx.writeAndFlush(content).addListener(this::answerWritten);
      return;
    }
    ctx.write(content);
    if (!ctx.channel().isWritable() && upstream != null) {
      // Paused before the flush: a flush that drains the buffer says "writable" at once.
      upstream.config().setAutoRead(false);
      ctx.flush();
    }
  }

  @Override
  public void upstreamReadComplete() {
    // Whatever the worker sent in one read goes on in one flush: an SSE event as soon as it came,
    // a whole answer (already flushed with its last part) not at all.
    if (answering && !answerWritten && !clientGone) {
      ctx.flush();
    }
  }

  /** The client connection can take more again: read on from the worker. */
  void writabilityChanged() {
    if (ctx.channel().isWritable() && upstream != null) {
      upstream.config().setAutoRead(true);
    }
  }

  /** The worker answered in full: its connection goes back to the pool and its slot is freed. */
  private void workerDone() {
    Channel ch = upstream;
    upstream = null;
    if (ch != null) {
      detach(ch);
      ch.config().setAutoRead(true);
      if (workerHead == null || !HttpUtil.isKeepAlive(workerHead)) {
        ch.close();
      }
      pool.giveBack(ch);
    }
    workerHead = null;
    cancelSilence();
    releaseLease();
  }

  @Override
  public void upstreamFailed(Throwable cause) {
    failed(cause);
  }

  /** The worker call failed: retried when it never reached a worker, else the error's answer. */
  private void failed(Throwable cause) {
    dropWorkerConnection();
    if (clientGone || ended) {
      return;
    }
    if (answering) {
      if (!answerWritten) {
        log.warn(
            "Worker {} broke off request {}: {}", call.workerId, call.requestId, cause.toString());
        status = 502;
        if (lease != null && inTrouble(cause)) {
          proxy.eject(lease, call, cause);
        }
        if (eventStream && !answerLengthKnown) {
          endStreamWithError(cause);
        } else {
          // A whole answer cut short: ending the connection without its end (chunked) or before
          // its length (Content-Length) makes clients see it as incomplete, never as complete.
          end();
          ctx.close();
        }
      }
      return;
    }
    if (reusedConnection
        && !heardFromWorker
        && !retriedClosed
        && !(cause instanceof ReadTimeoutException)) {
      // A kept-alive connection the worker closed (or reset) as the request went out: it never
      // reached the engine. Once more, on a new connection.
      retriedClosed = true;
      connect(true);
      return;
    }
    cancelSilence();
    Lease failedLease = lease;
    lease = null;
    if (!InferenceProxy.unreachable(cause) && inTrouble(cause)) {
      proxy.eject(failedLease, call, cause);
    }
    // The worker is marked and another slot taken before this one is freed, so the freed slot
    // cannot go to a request that would meet the same failure.
    Lease other = proxy.retryElsewhere(cause, call, failedLease, mayRetryElsewhere);
    failedLease.release();
    if (other != null) {
      mayRetryElsewhere = false;
      retriedClosed = false;
      lease = other;
      connect(false);
      return;
    }
    if (InferenceProxy.unreachable(cause) && waitAgain(failedLease.route)) {
      return;
    }
    answerError(proxy.failureOf(cause, failedLease, call));
  }

  /**
   * A request that never reached a worker (it could not be reached, no other had a free slot) waits
   * again at the head of the queue, within what is left of its wait time, instead of failing: its
   * worker died, and the others or a replacement will take it.
   */
  private boolean waitAgain(DeploymentRoute route) {
    long left = call.startedAtMillis + route.spec().waitTimeSeconds() * 1000L - proxy.nowMillis();
    if (left <= 0) {
      return false;
    }
    log.info(
        "Request {} waits again for a worker after {} was unreachable",
        call.requestId,
        call.workerId);
    retriedClosed = false;
    admission =
        route
            .readmit(left)
            .doOnDiscard(Lease.class, Lease::release)
            .subscribe(
                granted -> onLoop(() -> leased(granted)), e -> onLoop(() -> admissionFailed(e)));
    return true;
  }

  /** A failure that says the worker is gone or hung, not that this one request went wrong. */
  private static boolean inTrouble(Throwable cause) {
    return cause instanceof UpstreamHandler.ClosedEarly
        || cause instanceof ReadTimeoutException
        || cause instanceof IOException;
  }

  /**
   * Ends a stream the worker broke off with an OpenAI-style error event, then the stream's proper
   * end: the OpenAI SDKs raise an APIError on a data object with an {@code error} key, where a
   * stream that just stops would look like a short answer.
   */
  private void endStreamWithError(Throwable cause) {
    boolean timedOut = cause instanceof ReadTimeoutException;
    HttpStatus outcome = timedOut ? HttpStatus.GATEWAY_TIMEOUT : HttpStatus.BAD_GATEWAY;
    String message =
        timedOut
            ? "The worker stopped responding mid-stream, please retry"
            : "The worker failed mid-stream, please retry";
    status = outcome.value();
    byte[] event =
        ("data: " + ErrorBodies.openAi(outcome, message) + "\n\n").getBytes(StandardCharsets.UTF_8);
    ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(event)));
    ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(this::answerWritten);
  }

  private void checkSilence() {
    silence = null;
    if (upstream == null || ended) {
      return;
    }
    long quiet = System.nanoTime() - lastWorkerNanos;
    long limit = silenceLimit();
    if (quiet < limit) {
      watchSilence(limit - quiet);
      return;
    }
    failed(ReadTimeoutException.INSTANCE);
  }

  /**
   * How long the worker may be silent now: until the first byte of a streamed answer the first-byte
   * timeout (a stream's head comes before any token), else the response timeout.
   */
  private long silenceLimit() {
    long limit = proxy.responseTimeoutNanos();
    return heardFromWorker || !call.streamed
        ? limit
        : Math.min(limit, proxy.firstByteTimeoutNanos());
  }

  private void watchSilence(long delayNanos) {
    silence =
        ctx.executor()
            .schedule(() -> guarded(this::checkSilence), delayNanos, TimeUnit.NANOSECONDS);
  }

  private void cancelSilence() {
    if (silence != null) {
      silence.cancel(false);
      silence = null;
    }
  }

  /** The client's connection closed: everything this request holds is let go at once. */
  void clientLeft() {
    clientGone = true;
    call.clientLeft = true;
    if (admission != null) {
      admission.dispose();
    }
    // Closing the worker connection is what tells the engine to stop generating.
    dropWorkerConnection();
    if (!answerWritten) {
      status = UsageSink.CLIENT_CLOSED;
    }
    end();
  }

  private void answer(HttpResponseStatus answerStatus, String json) {
    write(jsonResponse(answerStatus, json));
  }

  private static FullHttpResponse jsonResponse(HttpResponseStatus status, String json) {
    var response =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            status,
            Unpooled.wrappedBuffer(json.getBytes(StandardCharsets.UTF_8)));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    return response;
  }

  private void answerError(InferenceException e) {
    if (answering) {
      ctx.close();
      return;
    }
    var response =
        jsonResponse(
            HttpResponseStatus.valueOf(e.status().value()),
            ErrorBodies.openAi(e.status(), e.getMessage()));
    HttpHeaders headers = response.headers();
    String retryAfter = e.retryAfter();
    if (retryAfter != null) {
      headers.set(HttpHeaderNames.RETRY_AFTER, retryAfter);
    }
    if (e.status() == HttpStatus.UNAUTHORIZED) {
      headers.set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
    }
    write(response);
  }

  private void write(FullHttpResponse response) {
    answering = true;
    status = response.status().code();
    HttpHeaders headers = response.headers();
    headers.set(InferenceProxy.REQUEST_ID, call.requestId);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
    if (closeAfter || !keepAlive) {
      closeAfter = true;
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ctx.writeAndFlush(response).addListener(this::answerWritten);
  }

  private void answerWritten(Future<? super Void> written) {
    if (!written.isSuccess()) {
      // The client's connection broke; its close ends the request.
      ctx.close();
      return;
    }
    answerWritten = true;
    if (!receivingBody || closeAfter) {
      complete();
    }
  }

  /** The answer is out and the request read: the connection may serve its next request. */
  private void complete() {
    end();
    if (closeAfter && receivingBody) {
      // The client may still be sending the body: a reset now could destroy the answer.
      LingeringClose.close(ctx.channel());
    } else if (closeAfter) {
      ctx.close();
    } else {
      connection.relayEnded(ctx, this);
    }
  }

  /** Frees what is still held and records usage; once. */
  private void end() {
    if (ended) {
      return;
    }
    ended = true;
    cancelSilence();
    releaseLease();
    dropRequestBody();
    proxy.ended(call, status);
  }

  private static void detach(Channel ch) {
    UpstreamHandler.of(ch).listener(null);
  }

  /** Closes the worker connection in use, if any: it is not reused. */
  private void dropWorkerConnection() {
    Channel ch = upstream;
    upstream = null;
    if (ch != null) {
      detach(ch);
      pool.drop(ch);
    }
  }

  /** Lets go of the request body (being received or kept for a retry) and its budget share. */
  private void dropRequestBody() {
    if (bodySilence != null) {
      bodySilence.cancel(false);
      bodySilence = null;
    }
    body = null;
    requestBody = null;
    if (bodyHold != null) {
      bodyHold.releaseAll();
    }
  }

  private void releaseLease() {
    if (lease != null) {
      lease.release();
      lease = null;
    }
  }

  private static InferenceException internal(String what, Throwable e) {
    log.error("{} for an inference request", what, e);
    return InferenceException.internal();
  }
}
