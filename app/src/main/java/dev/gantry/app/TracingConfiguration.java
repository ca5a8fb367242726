package dev.gantry.app;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.opentracingshim.OpenTracingShim;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * OpenTelemetry tracing, only when {@code management.otlp.tracing.endpoint} is set (an OTLP/HTTP
 * traces URL, e.g. {@code http://collector:4318/v1/traces}); without it there is no SDK, no
 * exporter, and the data plane creates no spans and sends no {@code traceparent}.
 *
 * <p>When on: every inference request is traced (a client's {@code traceparent} that says "not
 * sampled" is respected), spans are batched to the endpoint, W3C trace context is the propagation
 * format, and Temporal's own OpenTracing interceptor (through the OpenTelemetry shim, picked up by
 * the Temporal Spring Boot starter from the {@link io.opentracing.Tracer} bean) adds client,
 * workflow and activity spans.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnExpression("!'${management.otlp.tracing.endpoint:}'.isBlank()")
public class TracingConfiguration {
  private static final Logger log = LoggerFactory.getLogger(TracingConfiguration.class);

  @Bean(destroyMethod = "close")
  OpenTelemetrySdk openTelemetry(
      @Value("${management.otlp.tracing.endpoint}") String endpoint,
      @Value("${spring.application.name:gantry}") String serviceName) {
    log.info("Tracing on: spans are sent to {}", endpoint);
    return openTelemetry(
        BatchSpanProcessor.builder(OtlpHttpSpanExporter.builder().setEndpoint(endpoint).build())
            .build(),
        serviceName);
  }

  /** The SDK with spans going to {@code processor} (tests give an in-memory one). */
  static OpenTelemetrySdk openTelemetry(SpanProcessor processor, String serviceName) {
    var provider =
        SdkTracerProvider.builder()
            .setResource(
                Resource.getDefault()
                    .merge(
                        Resource.create(
                            Attributes.of(AttributeKey.stringKey("service.name"), serviceName))))
            .setSampler(Sampler.parentBased(Sampler.alwaysOn()))
            .addSpanProcessor(processor)
            .build();
    return OpenTelemetrySdk.builder()
        .setTracerProvider(provider)
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
        .build();
  }

  /** Temporal's interceptors (client, worker: workflow and activity spans) use this tracer. */
  @Bean
  io.opentracing.Tracer temporalTracer(OpenTelemetry openTelemetry) {
    return OpenTracingShim.createTracerShim(openTelemetry);
  }
}
