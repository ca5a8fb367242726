package dev.gantry.gateway.inference;

import static dev.gantry.gateway.inference.ExchangeTest.DEP;
import static dev.gantry.gateway.inference.ExchangeTest.chat;
import static dev.gantry.gateway.inference.ExchangeTest.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The spans of an inference request and the {@code traceparent} its worker gets, through the
 * request state machine driven as in {@link ExchangeTest} (whose harness this borrows), with an
 * OpenTelemetry SDK that keeps its spans in memory.
 */
class InferenceTracingTest {
  static final String CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  static final String CLIENT_SPAN = "00f067aa0ba902b7";

  final InMemorySpanExporter spans = InMemorySpanExporter.create();
  final SdkTracerProvider provider =
      SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build();
  final ExchangeTest gateway = new ExchangeTest();

  @BeforeEach
  void setUp() {
    gateway.setUp();
  }

  @AfterEach
  void nothingIsLeftHeld() {
    gateway.nothingIsLeftHeld();
    provider.close();
  }

  void traced() {
    gateway.tracing =
        InferenceTracing.of(
            OpenTelemetrySdk.builder()
                .setTracerProvider(provider)
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build());
    gateway.build();
  }

  /** Sends {@code request}, answers it from the worker; the traceparent the worker got. */
  String answered(FullHttpRequest request) {
    gateway.send(request);
    FullHttpRequest sent = gateway.workers.connection(0).request();
    String traceparent = sent.headers().get("traceparent");
    sent.release();
    gateway.workers.connection(0).answer(json("{}"));
    assertThat(gateway.readAnswer().status()).isEqualTo(HttpResponseStatus.OK);
    return traceparent;
  }

  static SpanData named(List<SpanData> all, String name) {
    return all.stream().filter(s -> s.getName().equals(name)).findFirst().orElseThrow();
  }

  /** The W3C traceparent of {@code span}: version, trace id, span id, sampled flags. */
  static String traceparent(SpanData span) {
    assertThat(span.getSpanContext().isSampled()).isTrue();
    return "00-"
        + span.getTraceId()
        + "-"
        + span.getSpanId()
        + "-"
        + span.getSpanContext().getTraceFlags().asHex();
  }

  @Test
  void aRequestIsOneTraceOfItsAdmissionAndWorkerCallAndItsWorkerGetsItsTraceparent() {
    traced();
    String traceparent = answered(chat(false));

    List<SpanData> finished = spans.getFinishedSpanItems();
    assertThat(finished)
        .extracting(SpanData::getName)
        .containsExactlyInAnyOrder(
            InferenceTracing.REQUEST, InferenceTracing.ADMISSION, InferenceTracing.WORKER);
    SpanData request = named(finished, InferenceTracing.REQUEST);
    SpanData admission = named(finished, InferenceTracing.ADMISSION);
    SpanData worker = named(finished, InferenceTracing.WORKER);
    assertThat(finished).extracting(SpanData::getTraceId).containsOnly(request.getTraceId());
    assertThat(request.getParentSpanId()).as("a new trace").isEqualTo(SpanId.getInvalid());
    assertThat(request.getKind()).isEqualTo(SpanKind.SERVER);
    assertThat(admission.getParentSpanId()).isEqualTo(request.getSpanId());
    assertThat(worker.getParentSpanId()).isEqualTo(request.getSpanId());
    assertThat(worker.getKind()).isEqualTo(SpanKind.CLIENT);

    assertThat(request.getAttributes().get(InferenceTracing.DEPLOYMENT)).isEqualTo(DEP);
    assertThat(request.getAttributes().get(InferenceTracing.ROUTE)).isEqualTo("chat/completions");
    assertThat(request.getAttributes().get(InferenceTracing.STATUS)).isEqualTo(200L);
    assertThat(request.getAttributes().get(InferenceTracing.OUTCOME)).isEqualTo("success");
    assertThat(worker.getAttributes().get(InferenceTracing.WORKER_ID)).isEqualTo("dep_1-w1");
    assertThat(worker.getAttributes().get(InferenceTracing.STATUS)).isEqualTo(200L);

    assertThat(traceparent)
        .as("the engine's work is a child of the worker call")
        .isEqualTo(traceparent(worker));
  }

  @Test
  void aClientsTraceparentIsTheParentOfTheRequest() {
    traced();
    var request = chat(false);
    request.headers().set("traceparent", "00-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01");
    String traceparent = answered(request);

    List<SpanData> finished = spans.getFinishedSpanItems();
    assertThat(finished).hasSize(3);
    assertThat(finished).extracting(SpanData::getTraceId).containsOnly(CLIENT_TRACE);
    assertThat(named(finished, InferenceTracing.REQUEST).getParentSpanId()).isEqualTo(CLIENT_SPAN);
    assertThat(traceparent)
        .startsWith("00-" + CLIENT_TRACE + "-")
        .isEqualTo(traceparent(named(finished, InferenceTracing.WORKER)));
  }

  @Test
  void aClientThatLeavesTheQueueHasAnAdmissionSpanAndNoWorkerCall() {
    traced();
    gateway.send(chat(false));
    var waiting =
        new io.netty.channel.embedded.EmbeddedChannel(new InferenceConnection(gateway.proxy));
    waiting.writeInbound(chat(false));
    waiting.close();
    FullHttpRequest sent = gateway.workers.connection(0).request();
    sent.release();
    gateway.workers.connection(0).answer(json("{}"));
    assertThat(gateway.readAnswer().status()).isEqualTo(HttpResponseStatus.OK);
    waiting.finishAndReleaseAll();

    List<SpanData> finished = spans.getFinishedSpanItems();
    assertThat(finished).hasSize(5);
    var left =
        finished.stream()
            .filter(s -> s.getName().equals(InferenceTracing.REQUEST))
            .filter(
                s ->
                    Long.valueOf(UsageSink.CLIENT_CLOSED)
                        .equals(s.getAttributes().get(InferenceTracing.STATUS)))
            .findFirst()
            .orElseThrow();
    assertThat(left.getAttributes().get(InferenceTracing.OUTCOME)).isEqualTo("client_closed");
    assertThat(finished)
        .filteredOn(s -> s.getTraceId().equals(left.getTraceId()))
        .extracting(SpanData::getName)
        .as("the one that left waited, and never called a worker")
        .containsExactlyInAnyOrder(InferenceTracing.REQUEST, InferenceTracing.ADMISSION);
  }

  @Test
  void anAsyncJobsWorkerCallIsATraceAndItsWorkerGetsItsTraceparent() {
    traced();
    var outcome = new AtomicReference<Object>();
    gateway.job(outcome, new ArrayList<>(), Duration.ofSeconds(60));
    FullHttpRequest sent = gateway.workers.connection(0).request();
    String traceparent = sent.headers().get("traceparent");
    sent.release();
    gateway.workers.connection(0).answer(json("{}"));
    gateway.client.runPendingTasks();
    assertThat(outcome.get()).isInstanceOf(InferenceProxy.BufferedAnswer.class);

    List<SpanData> finished = spans.getFinishedSpanItems();
    assertThat(finished)
        .extracting(SpanData::getName)
        .containsExactlyInAnyOrder(InferenceTracing.JOB, InferenceTracing.WORKER);
    SpanData job = named(finished, InferenceTracing.JOB);
    SpanData worker = named(finished, InferenceTracing.WORKER);
    assertThat(worker.getParentSpanId()).isEqualTo(job.getSpanId());
    assertThat(job.getAttributes().get(InferenceTracing.DEPLOYMENT)).isEqualTo(DEP);
    assertThat(job.getAttributes().get(InferenceTracing.STATUS)).isEqualTo(200L);
    assertThat(worker.getAttributes().get(InferenceTracing.WORKER_ID)).isEqualTo("dep_1-w1");
    assertThat(traceparent).isEqualTo(traceparent(worker));
  }

  @Test
  void tracingIsOffByDefaultNoHeaderIsSent() {
    assertThat(InferenceTracing.of(null)).isSameAs(InferenceTracing.OFF);
    assertThat(gateway.tracing.on()).isFalse();
    var request = chat(false);
    request.headers().set("traceparent", "00-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01");
    assertThat(answered(request)).as("neither the gateway's nor the client's").isNull();
    assertThat(spans.getFinishedSpanItems()).isEmpty();
  }
}
