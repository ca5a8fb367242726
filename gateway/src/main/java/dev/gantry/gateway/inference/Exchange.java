package dev.gantry.gateway.inference;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.Future;
import io.opentelemetry.api.trace.Span;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * The life of one {@code /openai/**} request on a client connection, from its head to the last byte
 * of its answer, as one state machine ({@link Phase}) on the connection's event loop. Each step is
 * one class with one job, run here in order:
 *
 * <ol>
 *   <li>{@link RequestChecks}: the head (gateway open, API key, deployment), the declared size, and
 *       once the body ({@link RequestBody}) is in, the body (JSON, model, limits);
 *   <li>{@link Admission}: a slot on a worker, at once or in the deployment's queue;
 *   <li>{@link UpstreamCall}: the worker call on a pooled connection, with its retries;
 *   <li>{@link AnswerWriter}: the answer to the client, relayed or the gateway's own;
 *   <li>{@link UsageSink}: the usage record and outcome count, once, when the request ends.
 * </ol>
 *
 * <p>A client that goes away ends the worker call at once, so the engine stops generating; a worker
 * that breaks off ends the client's answer (a stream with an error event); a worker silent for
 * longer than the response timeout gets 504 (or the answer ended, once it has started).
 *
 * <p>With tracing on ({@link InferenceTracing}), the request is a span from its head to its end,
 * with its admission waits and worker calls as children; the worker gets their {@code traceparent}.
 * Off, nothing is created.
 */
final class Exchange implements UpstreamCall.Receiver {
  private static final Logger log = LoggerFactory.getLogger(Exchange.class);

  private final InferenceProxy proxy;
  private final ChannelHandlerContext ctx;
  private final InferenceConnection connection;
  private final Call call;
  private final HttpMethod method;
  private final String contentType;
  private final String accept;
  private final AnswerWriter answer;

  /**
   * The least a request waiting for a worker counts against the body budget: an estimate of what
   * its connection and state cost besides its body.
   */
  static final long WAITING_REQUEST_BYTES = 4096;

  private Phase phase = Phase.HEAD;

  /**
   * Whether the client is still sending the request's body. Apart from the phase: an answer (a
   * refusal) can be written while the body still arrives.
   */
  private boolean bodyOpen = true;

  private RequestBody body;
  private Disposable admission;
  private UpstreamCall upstream;
  private boolean recorded;

  /** The request's span, its admission wait's and its worker call's; all null when not traced. */
  private Span span;

  private Span admissionSpan;
  private Span workerSpan;
  private int workerStatus;

  Exchange(
      InferenceProxy proxy,
      ChannelHandlerContext ctx,
      InferenceConnection connection,
      HttpRequest request,
      Call call) {
    this.proxy = proxy;
    this.ctx = ctx;
    this.connection = connection;
    this.call = call;
    this.method = request.method();
    this.contentType = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    this.accept = request.headers().get(HttpHeaderNames.ACCEPT);
    this.answer =
        new AnswerWriter(
            ctx,
            call.requestId,
            HttpUtil.isKeepAlive(request)
                && request.protocolVersion().equals(HttpVersion.HTTP_1_1));
  }

  private void moveTo(Phase next) {
    phase = phase.to(next);
  }

  /** HEAD: the checks on the request's head; then its body is read, or it is answered at once. */
  void start(HttpRequest request) {
    if (proxy.tracing().on()) {
      span = proxy.tracing().request(request.headers(), call);
    }
    if (request.decoderResult().isFailure()) {
      answer.closeAfter();
      refuse(new InferenceException(HttpStatus.BAD_REQUEST, "Malformed HTTP request"));
      return;
    }
    var head =
        proxy.checks().head(request.headers(), call.deploymentId, ctx.channel().remoteAddress());
    if (head.refusal() != null) {
      // A gateway shutting down ends its connections, so clients move to another one; a client
      // waiting for 100 Continue will not send the body the refusal leaves unread.
      if (proxy.isClosing() || HttpUtil.is100ContinueExpected(request)) {
        answer.closeAfter();
      }
      refuse(head.refusal());
      return;
    }
    call.tenantId = head.tenantId();
    call.route = head.route();
    if (call.route != null && listsModels()) {
      respond(proxy.modelsBody(call.route));
      return;
    }
    var hold = proxy.checks().bodyHold(call.tenantId, call.route);
    try {
      // Before 100 Continue and before any of the body is read: a declared body too large, or
      // one the budget cannot take, is refused here.
      var buffer = proxy.checks().bodyBuffer(HttpUtil.getContentLength(request, -1L), hold);
      body =
          new RequestBody(
              hold,
              buffer,
              ctx.executor(),
              proxy.nanoClock(),
              proxy.bodyTimeoutNanos(),
              () -> guarded(this::bodySilent));
    } catch (InferenceException refused) {
      hold.releaseAll();
      answer.closeAfter();
      refuse(refused);
      return;
    }
    moveTo(Phase.BODY);
    if (HttpUtil.is100ContinueExpected(request)) {
      answer.proceed();
    }
  }

  private boolean listsModels() {
    return method == HttpMethod.GET && call.rest.equals("models");
  }

  /** Whether the connection should hand this request the parts of its body. */
  boolean receivingBody() {
    return bodyOpen;
  }

  /** BODY: a part of the request body; the exchange owns it. */
  void requestContent(HttpContent content) {
    if (body != null) {
      body.heard();
    }
    if (content.decoderResult().isFailure()) {
      // A malformed body (e.g. broken chunking): the codec reads nothing more on this connection.
      content.release();
      bodyOpen = false;
      dropBody();
      answer.closeAfter();
      if (phase.beforeAnswer()) {
        refuse(new InferenceException(HttpStatus.BAD_REQUEST, "Malformed request body"));
      } else if (phase.answered()) {
        end(Phase.DONE);
        ctx.close();
      }
      return;
    }
    try {
      if (phase == Phase.BODY) {
        body.append(content.content());
      }
    } catch (InferenceException refused) {
      // Too large, or past the body budget (429): what was buffered is let go at once, and the
      // rest of the body is read and dropped by the lingering close.
      dropBody();
      answer.closeAfter();
      refuse(refused);
    } finally {
      content.release();
    }
    if (!(content instanceof LastHttpContent)) {
      return;
    }
    bodyOpen = false;
    switch (phase) {
      case BODY -> bodyIn();
      case ANSWERED -> complete();
      case LINGERING -> {
        // The rest of a refused body is in: the lingering close ends here.
        moveTo(Phase.DONE);
        ctx.close();
      }
      default -> {}
    }
  }

  private void bodyIn() {
    body.complete();
    if (call.route != null) {
      checkBody();
      return;
    }
    // The deployment may be running since the last read of the routing table.
    moveTo(Phase.ROUTING);
    proxy.routesRefreshed().whenComplete((ignored, error) -> onLoop(this::routeLookedUp, () -> {}));
  }

  /** A client that stops sending its body would hold its share of the budget: 408. */
  private void bodySilent() {
    if (phase != Phase.BODY) {
      return;
    }
    dropBody();
    answer.closeAfter();
    refuse(InferenceException.requestTimeout());
  }

  /** ROUTING: the table has been read again since the request came. */
  private void routeLookedUp() {
    if (phase != Phase.ROUTING) {
      return;
    }
    call.route = proxy.checks().resolve(call.deploymentId, call.tenantId);
    if (call.route == null) {
      refuse(InferenceException.notFound());
    } else if (listsModels()) {
      respond(proxy.modelsBody(call.route));
    } else {
      checkBody();
    }
  }

  /** The checks on the whole body; then admission. */
  private void checkBody() {
    var checked = proxy.checks().body(call.route, call.rest, body.bytes());
    call.streamed = checked.streamed();
    if (checked.refusal() != null) {
      refuse(checked.refusal());
      return;
    }
    byte[] outgoing = body.sending(checked.outgoing());
    if (!body.countAtLeast(WAITING_REQUEST_BYTES)) {
      // Many small requests waiting cost memory too: they are bounded by the same budget.
      refuse(InferenceException.queueFull());
      return;
    }
    upstream = proxy.upstreamCall(ctx.channel(), this, call, method, contentType, accept, outgoing);
    admit(proxy.admission().admit(call.route));
  }

  /** ADMISSION: waits for a worker slot. */
  private void admit(Mono<Lease> slot) {
    moveTo(Phase.ADMISSION);
    if (span != null) {
      admissionSpan = proxy.tracing().admission(span);
    }
    admission =
        slot.subscribe(
            granted -> onLoop(() -> leased(granted), granted::release),
            e -> onLoop(() -> admissionFailed(e), () -> {}));
  }

  private void leased(Lease granted) {
    if (phase != Phase.ADMISSION) {
      granted.release();
      return;
    }
    moveTo(Phase.CALLING);
    if (span != null) {
      endAdmission("granted");
      workerSpan = proxy.tracing().worker(span, granted.upstream.workerId);
      upstream.traceHeaders(proxy.tracing().headers(workerSpan));
    }
    upstream.start(granted);
  }

  private void admissionFailed(Throwable e) {
    if (phase != Phase.ADMISSION) {
      return;
    }
    var refusal = e instanceof InferenceException ie ? ie : internal("Admission failed", e);
    if (admissionSpan != null) {
      InferenceTracing.end(admissionSpan, refusal.status().value());
      admissionSpan = null;
    }
    refuse(refusal);
  }

  /** CALLING to RELAYING: the worker's answer head. */
  @Override
  public void head(HttpResponse head) {
    if (phase != Phase.CALLING) {
      return;
    }
    moveTo(Phase.RELAYING);
    workerStatus = head.status().code();
    answer.head(head);
  }

  /** A worker that answered has the request: it is never sent again, so its body is not needed. */
  @Override
  public void sent() {
    dropBody();
  }

  @Override
  public void content(HttpContent content, boolean last) {
    if (phase != Phase.RELAYING) {
      content.release();
      return;
    }
    if (call.firstByteAtMillis == 0 && content.content().isReadable()) {
      call.firstByteAtMillis = proxy.nowMillis();
    }
    if (last) {
      endWorker(workerStatus);
      answer.last(content).addListener(this::answerWritten);
    } else if (!answer.part(content)) {
      // Paused before the flush: a flush that drains the buffer says "writable" at once.
      upstream.pause();
      answer.flush();
    }
  }

  @Override
  public void readComplete() {
    // Whatever the worker sent in one read goes on in one flush: an SSE event as soon as it came.
    if (phase == Phase.RELAYING) {
      answer.flush();
    }
  }

  /** The client connection can take more again: read on from the worker. */
  void writabilityChanged() {
    if (phase == Phase.RELAYING && ctx.channel().isWritable()) {
      upstream.resume();
    }
  }

  /** CALLING: the call failed before any answer; one that never reached a worker waits again. */
  @Override
  public void failed(InferenceException failure) {
    if (phase != Phase.CALLING) {
      return;
    }
    endWorker(failure.status().value());
    if (failure.unsent()) {
      Mono<Lease> again = proxy.admission().readmit(call.route, call.startedAtMillis);
      if (again != null) {
        log.info(
            "Request {} waits again for a worker after {} was unreachable",
            call.requestId,
            upstream.workerId());
        admit(again);
        return;
      }
    }
    refuse(failure);
  }

  /** RELAYING: the worker broke off; a stream ends with an error event, else the connection. */
  @Override
  public void brokenOff(Throwable cause) {
    if (phase != Phase.RELAYING) {
      return;
    }
    answer.status(502);
    endWorker(502);
    if (answer.canEndWithErrorEvent()) {
      answer.errorEvent(cause).addListener(this::answerWritten);
    } else {
      // A whole answer cut short: ending the connection without its end (chunked) or before its
      // length (Content-Length) makes clients see it as incomplete, never as complete.
      end(Phase.DONE);
      ctx.close();
    }
  }

  /** The client's connection closed: everything this request holds is let go at once. */
  void clientLeft() {
    if (phase == Phase.DONE) {
      return;
    }
    if (!phase.answered()) {
      answer.status(UsageSink.CLIENT_CLOSED);
    }
    end(Phase.DONE);
  }

  /** RESPONDING: an answer of the gateway's own. */
  private void respond(String json) {
    moveTo(Phase.RESPONDING);
    answer.ok(json).addListener(this::answerWritten);
  }

  /** RESPONDING: the refusal is the answer (or, once an answer has begun, the connection ends). */
  private void refuse(InferenceException e) {
    if (!phase.beforeAnswer()) {
      ctx.close();
      return;
    }
    moveTo(Phase.RESPONDING);
    answer.error(e).addListener(this::answerWritten);
  }

  private void answerWritten(Future<? super Void> written) {
    if (!written.isSuccess()) {
      // The client's connection broke; its close ends the request.
      ctx.close();
      return;
    }
    if (phase == Phase.DONE) {
      return;
    }
    if (bodyOpen && !answer.closesAfter()) {
      // The rest of the body comes before the connection's next request.
      moveTo(Phase.ANSWERED);
      return;
    }
    complete();
  }

  /** The answer is out and the request read: the connection may serve its next request. */
  private void complete() {
    if (answer.closesAfter() && bodyOpen) {
      // The client may still be sending the body: a reset now could destroy the answer.
      end(Phase.LINGERING);
      LingeringClose.close(ctx.channel());
      return;
    }
    end(Phase.DONE);
    if (answer.closesAfter()) {
      ctx.close();
    } else {
      connection.exchangeEnded(ctx, this);
    }
  }

  /** Moves to {@code last}, letting go of all the request holds and recording its usage once. */
  private void end(Phase last) {
    moveTo(last);
    if (admission != null) {
      admission.dispose();
    }
    if (upstream != null) {
      upstream.abort();
    }
    dropBody();
    if (!recorded) {
      recorded = true;
      call.workerId = upstream == null ? null : upstream.workerId();
      proxy.ended(call, answer.status());
      if (span != null) {
        endAdmission("abandoned");
        endWorker(answer.status());
        InferenceTracing.end(span, answer.status());
      }
    }
  }

  private void endAdmission(String outcome) {
    if (admissionSpan != null) {
      InferenceTracing.endWith(admissionSpan, outcome);
      admissionSpan = null;
    }
  }

  private void endWorker(int status) {
    if (workerSpan != null) {
      // The worker that answered: a call retried at once on another worker is the same span.
      workerSpan.setAttribute(InferenceTracing.WORKER_ID, upstream.workerId());
      InferenceTracing.end(workerSpan, status);
      workerSpan = null;
    }
  }

  private void dropBody() {
    if (body != null) {
      body.drop();
    }
  }

  /**
   * Runs {@code task} on the connection's event loop; {@code orElse} where it cannot run (the loop
   * has shut down), to give back what the task would have taken.
   */
  private void onLoop(Runnable task, Runnable orElse) {
    if (ctx.executor().inEventLoop()) {
      guarded(task);
      return;
    }
    try {
      ctx.executor().execute(() -> guarded(task));
    } catch (RejectedExecutionException shutDown) {
      orElse.run();
    }
  }

  /** Runs a step; an unexpected failure ends the request with 500 instead of leaving it hanging. */
  private void guarded(Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      log.error("Inference request {} failed", call.requestId, e);
      if (upstream != null) {
        upstream.abort();
      }
      if (phase.beforeAnswer()) {
        answer.closeAfter();
        refuse(InferenceException.internal());
      } else if (phase != Phase.DONE) {
        ctx.close();
      }
    }
  }

  private static InferenceException internal(String what, Throwable e) {
    log.error("{} for an inference request", what, e);
    return InferenceException.internal();
  }
}
