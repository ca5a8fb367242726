package dev.gantry.gateway.inference;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream call of one request, for synchronous requests and async jobs alike: a keep-alive
 * worker connection of the caller's event loop ({@link WorkerConnections}), the request written on
 * it, the worker's answer handed to a {@link Receiver} part by part, and, when the call fails
 * before the worker answered, the one retry policy ({@link RetryPolicy}) and failure mapping
 * ({@link WorkerFailures}). Everything runs on one event loop.
 *
 * <p>The worker's slot ({@link Lease}) and connection are given back as soon as its answer is in,
 * before the receiver gets the last part; a worker that answers 5xx has its answer read to the end
 * and dropped, and the receiver gets 502. A worker silent for longer than the response timeout (the
 * first-byte timeout, for a stream's first byte) fails the call.
 */
final class UpstreamCall implements UpstreamHandler.Listener {
  private static final Logger log = LoggerFactory.getLogger(UpstreamCall.class);

  /** What the owner of the request hears from its worker call; all on the call's event loop. */
  interface Receiver {
    /** The worker's answer head (not interim, not 5xx). */
    void head(HttpResponse head);

    /** The worker has the request (any final head, 5xx included): it is never sent again. */
    default void sent() {}

    /** The request is being written to a worker's connection (each attempt). */
    default void sending() {}

    /**
     * A part of the answer; the receiver owns (and releases) it. With {@code last} the answer is
     * complete, and the worker's slot and connection are already given back.
     */
    void content(HttpContent content, boolean last);

    /** The end of one read from the worker: a good time to flush what it brought. */
    void readComplete();

    /**
     * The call failed before its answer's head was handed on; {@code answer} is the error table's
     * answer, {@link InferenceException#unsent} when no worker got the request (it may wait for
     * another).
     */
    void failed(InferenceException answer);

    /** The worker broke off (or fell silent) after the answer's head was handed on. */
    void brokenOff(Throwable cause);
  }

  /**
   * The request as it is sent.
   *
   * @param pathAndQuery the path after the worker's base path, with the query string if any
   * @param contentType the content type to send (JSON when null)
   * @param accept the caller's {@code Accept}, or null
   * @param streamed whether the answer is a stream (its first byte has its own timeout)
   */
  record Request(
      HttpMethod method,
      String pathAndQuery,
      String contentType,
      String accept,
      String requestId,
      byte[] body,
      boolean streamed) {
    /** The same request without its body, which the call keeps only until the worker has it. */
    Request withoutBody() {
      return new Request(method, pathAndQuery, contentType, accept, requestId, null, streamed);
    }
  }

  /**
   * @param response longest silence of the worker, in nanoseconds
   * @param firstByte longest wait for a stream's first byte, in nanoseconds
   * @param silenceEjects whether a worker silent that long is in trouble (the gateway's own
   *     timeouts); not when the limit is what is left of an async job's time, which says nothing
   *     about the worker
   */
  record Timeouts(long response, long firstByte, boolean silenceEjects) {}

  private enum State {
    /** No worker: not started, between a failure and a new slot, or aborted. */
    IDLE,
    /** Taking a connection. */
    CONNECTING,
    /** The request is on its way; no answer head yet. */
    SENT,
    /** The answer's head is handed on; parts follow. */
    RECEIVING,
    /** The worker answered 5xx: the rest of its answer is read and dropped. */
    DISCARDING,
    /** The answer is in, or the call failed for good, or was aborted. */
    FINISHED
  }

  private final WorkerConnections connections;
  private final Admission admission;
  private final EventLoop loop;
  private final Class<? extends Channel> transport;
  private final Request request;
  private final Timeouts timeouts;
  private final UsageMeter meter;
  private final Receiver receiver;
  private final LongSupplier nanoTime;
  private final RetryPolicy retries = new RetryPolicy();

  private State state = State.IDLE;
  private Lease lease;
  private WorkerConnections.Connections pool;
  private Channel channel;
  private String lastWorkerId;
  private boolean reusedConnection;
  private boolean heard;

  /** An interim (1xx) answer is being read; its end is not the answer's. */
  private boolean interim;

  private HttpResponse head;
  private byte[] body;
  private boolean eventStream;
  private long lastHeardNanos;
  private ScheduledFuture<?> silence;

  /** Trace context headers ({@code traceparent}) sent to the worker; null when not traced. */
  private HttpHeaders traceHeaders;

  UpstreamCall(
      WorkerConnections connections,
      Admission admission,
      EventLoop loop,
      Class<? extends Channel> transport,
      Request request,
      Timeouts timeouts,
      UsageMeter meter,
      Receiver receiver,
      LongSupplier nanoTime) {
    this.connections = connections;
    this.admission = admission;
    this.loop = loop;
    this.transport = transport;
    this.request = request.withoutBody();
    this.body = request.body();
    this.timeouts = timeouts;
    this.meter = meter;
    this.receiver = receiver;
    this.nanoTime = nanoTime;
  }

  /** Calls the worker of {@code granted}; again after a failure reported as unsent. */
  void start(Lease granted) {
    if (state != State.IDLE || lease != null) {
      throw new IllegalStateException("A worker call is already under way");
    }
    retries.onReadmitted();
    lease = granted;
    connect(false);
  }

  /** Sends {@code headers} (the worker call's trace context) with the next attempts. */
  void traceHeaders(HttpHeaders headers) {
    this.traceHeaders = headers;
  }

  /** The worker of the current or last attempt, or null. */
  String workerId() {
    return lastWorkerId;
  }

  /** Stops reading from the worker until {@link #resume}: the caller cannot take more now. */
  void pause() {
    if (channel != null) {
      channel.config().setAutoRead(false);
    }
  }

  void resume() {
    if (channel != null) {
      channel.config().setAutoRead(true);
    }
  }

  /**
   * Ends the call at once (the caller left, or gave up): closing the worker connection is what
   * tells the engine to stop generating. The slot is given back.
   */
  void abort() {
    state = State.FINISHED;
    dropConnection();
    cancelSilence();
    releaseLease();
  }

  private void connect(boolean fresh) {
    state = State.CONNECTING;
    lastWorkerId = lease.upstream.workerId;
    pool = connections.on(loop, transport, lease.upstream);
    Future<Channel> acquired = pool.take(fresh);
    if (acquired.isDone()) {
      connected(acquired);
    } else {
      acquired.addListener(f -> guarded(() -> connected(acquired)));
    }
  }

  private void connected(Future<Channel> acquired) {
    if (state != State.CONNECTING) {
      if (acquired.isSuccess()) {
        pool.giveBack(acquired.getNow());
      }
      return;
    }
    if (!acquired.isSuccess()) {
      failed(acquired.cause());
      return;
    }
    Channel ch = acquired.getNow();
    channel = ch;
    reusedConnection = pool.reused(ch);
    heard = false;
    interim = false;
    UpstreamHandler.of(ch).listener(this);
    Upstream target = lease.upstream;
    var out =
        new DefaultFullHttpRequest(
            HttpVersion.HTTP_1_1,
            request.method(),
            target.basePath + request.pathAndQuery(),
            Unpooled.wrappedBuffer(body));
    HttpHeaders headers = out.headers();
    headers.set(HttpHeaderNames.HOST, target.host + ":" + target.port);
    // Only what the engine needs: never the caller's Gantry key.
    headers.set(
        HttpHeaderNames.CONTENT_TYPE,
        request.contentType() == null ? HttpHeaderValues.APPLICATION_JSON : request.contentType());
    if (request.accept() != null) {
      headers.set(HttpHeaderNames.ACCEPT, request.accept());
    }
    headers.set(InferenceProxy.REQUEST_ID, request.requestId());
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    if (traceHeaders != null) {
      headers.add(traceHeaders);
    }
    state = State.SENT;
    receiver.sending();
    lastHeardNanos = nanoTime.getAsLong();
    // Restarted per attempt: a retry gets its own first-byte window.
    cancelSilence();
    watchSilence(silenceLimit());
    ch.writeAndFlush(out)
        .addListener(
            (ChannelFuture f) -> {
              if (!f.isSuccess() && channel == f.channel()) {
                guarded(() -> failed(f.cause()));
              }
            });
  }

  @Override
  public void upstreamRead(HttpObject message) {
    guarded(() -> read(message));
  }

  private void read(HttpObject message) {
    heard = true;
    lastHeardNanos = nanoTime.getAsLong();
    if (message.decoderResult().isFailure()) {
      // An answer this proxy cannot parse: the connection is of no further use.
      Throwable cause = message.decoderResult().cause();
      ReferenceCountUtil.release(message);
      failed(new IOException("Malformed response from the worker: " + cause, cause));
      return;
    }
    if (message instanceof HttpResponse h) {
      head(h);
    }
    if (message instanceof HttpContent content) {
      content(content);
    }
  }

  private void head(HttpResponse h) {
    if (h.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
      interim = true;
      return;
    }
    head = h;
    body = null;
    receiver.sent();
    if (h.status().code() >= 500) {
      log.warn("Worker {} answered {} to request {}", workerId(), h.status(), request.requestId());
      state = State.DISCARDING;
      return;
    }
    String type = h.headers().get(HttpHeaderNames.CONTENT_TYPE);
    eventStream = type != null && type.startsWith("text/event-stream");
    state = State.RECEIVING;
    receiver.head(h);
  }

  private void content(HttpContent content) {
    boolean last = content instanceof LastHttpContent;
    if (interim) {
      content.release();
      interim = !last;
      return;
    }
    if (state == State.DISCARDING) {
      content.release();
      if (last) {
        done();
        receiver.failed(InferenceException.badGateway());
      }
      return;
    }
    if (state != State.RECEIVING) {
      content.release();
      return;
    }
    meter.observe(content.content(), eventStream);
    if (last) {
      done();
    }
    receiver.content(content, last);
  }

  @Override
  public void upstreamReadComplete() {
    if (state == State.RECEIVING) {
      receiver.readComplete();
    }
  }

  @Override
  public void upstreamFailed(Throwable cause) {
    guarded(() -> failed(cause));
  }

  /** The worker answered in full: its connection goes back to the pool and its slot is freed. */
  private void done() {
    state = State.FINISHED;
    Channel ch = channel;
    channel = null;
    if (ch != null) {
      detach(ch);
      ch.config().setAutoRead(true);
      if (!HttpUtil.isKeepAlive(head)) {
        ch.close();
      }
      pool.giveBack(ch);
    }
    cancelSilence();
    releaseLease();
  }

  /** The call failed: retried when the request cannot have reached an engine, else reported. */
  private void failed(Throwable cause) {
    if (state == State.IDLE || state == State.FINISHED) {
      return;
    }
    dropConnection();
    if (state == State.RECEIVING) {
      state = State.FINISHED;
      cancelSilence();
      log.warn(
          "Worker {} broke off request {}: {}", workerId(), request.requestId(), cause.toString());
      if (inTrouble(cause)) {
        admission.eject(lease, request.requestId(), cause);
      }
      releaseLease();
      receiver.brokenOff(cause);
      return;
    }
    if (retries.newConnection(cause, reusedConnection, heard)) {
      // A kept-alive connection the worker closed (or reset) as the request went out: it never
      // reached the engine. Once more, on a new connection.
      connect(true);
      return;
    }
    cancelSilence();
    Lease failed = lease;
    lease = null;
    Lease other = null;
    if (WorkerFailures.unreachable(cause)) {
      other =
          admission.unreachable(failed, request.requestId(), cause, retries.mayTryOtherWorker());
    } else if (inTrouble(cause)) {
      admission.eject(failed, request.requestId(), cause);
    }
    failed.release();
    if (other != null) {
      retries.onOtherWorker();
      lease = other;
      connect(false);
      return;
    }
    state = State.IDLE;
    receiver.failed(WorkerFailures.answerFor(cause, lastWorkerId, request.requestId()));
  }

  private boolean inTrouble(Throwable cause) {
    return WorkerFailures.inTrouble(cause)
        && (timeouts.silenceEjects() || !(cause instanceof ReadTimeoutException));
  }

  private void checkSilence() {
    silence = null;
    if (channel == null || state == State.FINISHED || state == State.IDLE) {
      return;
    }
    long quiet = nanoTime.getAsLong() - lastHeardNanos;
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
    return heard || !request.streamed()
        ? timeouts.response()
        : Math.min(timeouts.response(), timeouts.firstByte());
  }

  private void watchSilence(long delayNanos) {
    silence = loop.schedule(() -> guarded(this::checkSilence), delayNanos, TimeUnit.NANOSECONDS);
  }

  private void cancelSilence() {
    if (silence != null) {
      silence.cancel(false);
      silence = null;
    }
  }

  /** Closes the worker connection in use, if any: it is not reused. */
  private void dropConnection() {
    Channel ch = channel;
    channel = null;
    if (ch != null) {
      detach(ch);
      pool.drop(ch);
    }
  }

  /**
   * Stops hearing from a connection. A closed one may have lost its pipeline already (on its
   * deregistration), and with it its handler.
   */
  private static void detach(Channel ch) {
    UpstreamHandler handler = UpstreamHandler.of(ch);
    if (handler != null) {
      handler.listener(null);
    }
  }

  private void releaseLease() {
    if (lease != null) {
      lease.release();
      lease = null;
    }
  }

  /**
   * Runs a step of the call; an unexpected failure (a bug) ends it, and the receiver hears of it as
   * of any failure, instead of the request being left hanging.
   */
  private void guarded(Runnable step) {
    // The state before the step: a step may end the call before it tells the receiver, and a
    // failure of the receiver's own must still reach it.
    State before = state;
    try {
      step.run();
    } catch (RuntimeException e) {
      log.error("Worker call of request {} failed", request.requestId(), e);
      abort();
      try {
        if (before == State.RECEIVING) {
          receiver.brokenOff(e);
        } else if (before != State.FINISHED && before != State.IDLE) {
          receiver.failed(InferenceException.internal());
        }
      } catch (RuntimeException again) {
        log.error("Request {} could not be ended after a failure", request.requestId(), again);
      }
    }
  }
}
