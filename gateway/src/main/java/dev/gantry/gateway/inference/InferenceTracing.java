package dev.gantry.gateway.inference;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;

/**
 * The spans of an inference request: {@code gantry.inference} from the moment its head is read to
 * its end, with {@code gantry.inference.admission} (waiting for a worker slot) and {@code
 * gantry.inference.worker} (the worker call) as children, and the W3C {@code traceparent} of the
 * worker call sent to the engine. A client's own {@code traceparent} makes the request's span its
 * child.
 *
 * <p>Off ({@link #OFF}) unless an {@link OpenTelemetry} is configured: then nothing is created or
 * sent, and the data plane only tests {@link #on()}.
 */
public final class InferenceTracing {
  /** No spans, no header. */
  public static final InferenceTracing OFF = new InferenceTracing(null, null);

  static final String REQUEST = "gantry.inference";
  static final String ADMISSION = "gantry.inference.admission";
  static final String WORKER = "gantry.inference.worker";
  static final String JOB = "gantry.inference.job";

  static final AttributeKey<String> DEPLOYMENT = AttributeKey.stringKey("gantry.deployment.id");
  static final AttributeKey<String> ROUTE = AttributeKey.stringKey("gantry.inference.route");
  static final AttributeKey<String> WORKER_ID = AttributeKey.stringKey("gantry.worker.id");
  static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("gantry.inference.outcome");

  private static final TextMapGetter<HttpHeaders> FROM_HEADERS =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HttpHeaders carrier) {
          return carrier.names();
        }

        @Override
        public String get(HttpHeaders carrier, String key) {
          return carrier == null ? null : carrier.get(key);
        }
      };

  private static final TextMapSetter<HttpHeaders> TO_HEADERS = HttpHeaders::set;

  private final Tracer tracer;
  private final TextMapPropagator propagator;

  private InferenceTracing(Tracer tracer, TextMapPropagator propagator) {
    this.tracer = tracer;
    this.propagator = propagator;
  }

  /** Spans through {@code openTelemetry}; {@link #OFF} when it is null. */
  public static InferenceTracing of(OpenTelemetry openTelemetry) {
    if (openTelemetry == null) {
      return OFF;
    }
    return new InferenceTracing(
        openTelemetry.getTracer("dev.gantry.gateway"),
        openTelemetry.getPropagators().getTextMapPropagator());
  }

  boolean on() {
    return tracer != null;
  }

  /** The request's span, the child of the client's {@code traceparent} when it sent one. */
  Span request(HttpHeaders clientHeaders, Call call) {
    Context parent = propagator.extract(Context.root(), clientHeaders, FROM_HEADERS);
    var span = tracer.spanBuilder(REQUEST).setParent(parent).setSpanKind(SpanKind.SERVER);
    if (call.deploymentId != null) {
      span.setAttribute(DEPLOYMENT, call.deploymentId);
      span.setAttribute(ROUTE, call.rest);
    }
    return span.startSpan();
  }

  /**
   * An async job's worker call (its admission and call), a trace of its own: the job runs apart
   * from the request that submitted it.
   */
  Span job(Call call) {
    return tracer
        .spanBuilder(JOB)
        .setNoParent()
        .setSpanKind(SpanKind.INTERNAL)
        .setAttribute(DEPLOYMENT, call.deploymentId)
        .setAttribute(ROUTE, call.rest)
        .startSpan();
  }

  /** The wait for a worker slot. */
  Span admission(Span request) {
    return tracer
        .spanBuilder(ADMISSION)
        .setParent(Context.root().with(request))
        .setSpanKind(SpanKind.INTERNAL)
        .startSpan();
  }

  /** The worker call. */
  Span worker(Span request, String workerId) {
    var span =
        tracer
            .spanBuilder(WORKER)
            .setParent(Context.root().with(request))
            .setSpanKind(SpanKind.CLIENT);
    if (workerId != null) {
      span.setAttribute(WORKER_ID, workerId);
    }
    return span.startSpan();
  }

  /** The headers ({@code traceparent}, {@code tracestate}) that make the engine's work a child. */
  HttpHeaders headers(Span worker) {
    var headers = new DefaultHttpHeaders();
    propagator.inject(Context.root().with(worker), headers, TO_HEADERS);
    return headers;
  }

  /** Ends {@code span} with the status the client (or, for the worker call, the worker) got. */
  static void end(Span span, int status) {
    span.setAttribute(STATUS, (long) status);
    span.setAttribute(OUTCOME, outcome(status));
    if (status >= 500) {
      span.setStatus(StatusCode.ERROR);
    }
    span.end();
  }

  /** Ends {@code span} (a wait for a worker slot) with how it ended: granted, abandoned. */
  static void endWith(Span span, String outcome) {
    span.setAttribute(OUTCOME, outcome);
    span.end();
  }

  private static String outcome(int status) {
    if (status == UsageSink.CLIENT_CLOSED) {
      return "client_closed";
    }
    if (status < 400) {
      return "success";
    }
    return status < 500 ? "client_error" : "server_error";
  }
}
