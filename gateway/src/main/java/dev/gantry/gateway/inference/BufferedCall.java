package dev.gantry.gateway.inference;

import dev.gantry.gateway.inference.InferenceProxy.BufferedAnswer;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.opentelemetry.api.trace.Span;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * An async job's call to its deployment's workers: the same body checks, admission, upstream call
 * ({@link UpstreamCall}, on the pooled worker connections of the job event loop), retry policy,
 * failure mapping and usage record as a synchronous request, with the worker's whole answer read
 * into memory (up to a limit). Everything but its start and cancel runs on the job event loop.
 */
final class BufferedCall implements UpstreamCall.Receiver {
  private static final Logger log = LoggerFactory.getLogger(BufferedCall.class);

  private final InferenceProxy proxy;
  private final EventLoop loop;
  private final Class<? extends Channel> transport;
  private final MonoSink<BufferedAnswer> sink;
  private final Call call;
  private final byte[] body;
  private final Runnable onFetched;
  private final Runnable onProcessing;
  private final long maxBytes;
  private final Duration responseTimeout;

  private Disposable admission;
  private UpstreamCall upstream;
  private int status;
  private String contentType;
  private BodyBuffer answer;
  private boolean finished;

  /** The call's span and its worker call's; null when not traced. */
  private Span span;

  private Span workerSpan;

  private BufferedCall(
      InferenceProxy proxy,
      EventLoop loop,
      Class<? extends Channel> transport,
      MonoSink<BufferedAnswer> sink,
      Call call,
      byte[] body,
      Runnable onFetched,
      Runnable onProcessing,
      long maxBytes,
      Duration responseTimeout) {
    this.proxy = proxy;
    this.loop = loop;
    this.transport = transport;
    this.sink = sink;
    this.call = call;
    this.body = body;
    this.onFetched = onFetched;
    this.onProcessing = onProcessing;
    this.maxBytes = maxBytes;
    this.responseTimeout = responseTimeout;
  }

  /**
   * The call, made when subscribed; cancelling the subscription ends it (and the worker's
   * generation) at once. Fails with an {@link InferenceException} carrying the status a synchronous
   * request would have got.
   */
  static Mono<BufferedAnswer> of(
      InferenceProxy proxy,
      EventLoop loop,
      Class<? extends Channel> transport,
      Call call,
      String tenantId,
      byte[] body,
      Runnable onFetched,
      Runnable onProcessing,
      long maxBytes,
      Duration responseTimeout) {
    call.tenantId = tenantId;
    return Mono.create(
        sink -> {
          var buffered =
              new BufferedCall(
                  proxy,
                  loop,
                  transport,
                  sink,
                  call,
                  body,
                  onFetched,
                  onProcessing,
                  maxBytes,
                  responseTimeout);
          sink.onCancel(() -> buffered.onLoop(buffered::cancelled, () -> {}));
          // Not an answer of a worker: the request was not sent, so the job may run it again.
          buffered.onLoop(
              buffered::start,
              () -> sink.error(new IllegalStateException("The gateway is shutting down")));
        });
  }

  private void start() {
    if (proxy.tracing().on()) {
      span = proxy.tracing().job(call);
    }
    DeploymentRoute route = proxy.checks().resolve(call.deploymentId, call.tenantId);
    if (route == null) {
      finish(InferenceException.notFound());
      return;
    }
    call.route = route;
    // The same checks as a synchronous request's body; again here, for jobs stored before them.
    var checked = proxy.checks().body(route, call.rest, body);
    if (checked.refusal() != null) {
      finish(checked.refusal());
      return;
    }
    upstream =
        new UpstreamCall(
            proxy.connections(),
            proxy.admission(),
            loop,
            transport,
            new UpstreamCall.Request(
                HttpMethod.POST,
                call.upstreamPath,
                null,
                null,
                call.requestId,
                checked.outgoing(),
                false),
            new UpstreamCall.Timeouts(responseTimeout.toNanos(), responseTimeout.toNanos(), false),
            call.meter,
            this,
            proxy.nanoClock());
    admission =
        proxy
            .admission()
            .admit(route)
            .subscribe(
                lease ->
                    onLoop(
                        () -> leased(lease),
                        () -> {
                          lease.release();
                          sink.error(new IllegalStateException("The gateway is shutting down"));
                        }),
                e -> onLoop(() -> finish(e), () -> finish(e)));
  }

  private void leased(Lease lease) {
    if (finished) {
      lease.release();
      return;
    }
    onFetched.run();
    if (span != null) {
      workerSpan = proxy.tracing().worker(span, lease.upstream.workerId);
      upstream.traceHeaders(proxy.tracing().headers(workerSpan));
    }
    upstream.start(lease);
  }

  @Override
  public void head(HttpResponse head) {
    status = head.status().code();
    contentType = head.headers().get(HttpHeaderNames.CONTENT_TYPE);
    answer = new BodyBuffer(-1, maxBytes, this::resultTooLarge);
  }

  @Override
  public void content(HttpContent content, boolean last) {
    try {
      if (call.firstByteAtMillis == 0 && content.content().isReadable()) {
        call.firstByteAtMillis = proxy.nowMillis();
      }
      if (!finished) {
        answer.append(content.content());
      }
    } catch (InferenceException tooLarge) {
      upstream.abort();
      finish(tooLarge);
      return;
    } finally {
      content.release();
    }
    if (last) {
      finish(new BufferedAnswer(status, contentType, answer.bytes()));
    }
  }

  @Override
  public void sending() {
    onProcessing.run();
  }

  @Override
  public void readComplete() {}

  @Override
  public void failed(InferenceException answer) {
    finish(answer);
  }

  @Override
  public void brokenOff(Throwable cause) {
    finish(WorkerFailures.answerFor(cause, upstream.workerId(), call.requestId));
  }

  private InferenceException resultTooLarge(long limit) {
    return new InferenceException(
        HttpStatus.BAD_GATEWAY,
        "The worker's answer is larger than the " + limit + "-byte limit for async results");
  }

  /** The subscriber went away: the worker connection is closed, so the engine stops. */
  private void cancelled() {
    if (!finished) {
      end(UsageSink.CLIENT_CLOSED);
    }
  }

  /** The call's outcome: an answer, or the failure a synchronous request would have got. */
  private void finish(Object outcome) {
    if (finished) {
      return;
    }
    if (outcome instanceof BufferedAnswer done) {
      end(done.status());
      sink.success(done);
      return;
    }
    var failure =
        outcome instanceof InferenceException e
            ? e
            : WorkerFailures.answerFor((Throwable) outcome, null, call.requestId);
    end(failure.status().value());
    sink.error(failure);
  }

  private void end(int answered) {
    finished = true;
    if (admission != null) {
      admission.dispose();
    }
    if (upstream != null) {
      upstream.abort();
      call.workerId = upstream.workerId();
    }
    proxy.usage().record(call, answered);
    if (span != null) {
      if (workerSpan != null) {
        workerSpan.setAttribute(InferenceTracing.WORKER_ID, call.workerId);
        InferenceTracing.end(workerSpan, answered);
      }
      InferenceTracing.end(span, answered);
    }
  }

  /**
   * Runs {@code task} on the job event loop; {@code orElse} where it cannot run (the loop has shut
   * down). A task that fails (a bug) ends the call with 500 instead of leaving the job waiting.
   */
  private void onLoop(Runnable task, Runnable orElse) {
    try {
      loop.execute(() -> guarded(task));
    } catch (RejectedExecutionException shutDown) {
      orElse.run();
    }
  }

  private void guarded(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      log.error("The worker call of job request {} failed", call.requestId, e);
      if (upstream != null) {
        upstream.abort();
      }
      finish(InferenceException.internal());
    }
  }
}
