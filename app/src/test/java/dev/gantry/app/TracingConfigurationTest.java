package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityOptions;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowOptions;
import io.temporal.opentracing.OpenTracingClientInterceptor;
import io.temporal.opentracing.OpenTracingOptions;
import io.temporal.opentracing.OpenTracingWorkerInterceptor;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.WorkerFactoryOptions;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * Tracing is off unless its endpoint is set; when on, Temporal's interceptor, through the tracer
 * this configuration gives it, puts a workflow's start, run and activities in one trace.
 */
class TracingConfigurationTest {
  final ApplicationContextRunner context =
      new ApplicationContextRunner().withUserConfiguration(TracingConfiguration.class);

  @Test
  void offByDefaultNoSdkNoExporterNoTemporalTracer() {
    context.run(
        c -> {
          assertThat(c).doesNotHaveBean(OpenTelemetry.class);
          assertThat(c).doesNotHaveBean(io.opentracing.Tracer.class);
        });
    context
        .withPropertyValues("management.otlp.tracing.endpoint=")
        .run(c -> assertThat(c).doesNotHaveBean(OpenTelemetry.class));
  }

  @Test
  void onWithAnEndpoint() {
    context
        .withPropertyValues("management.otlp.tracing.endpoint=http://127.0.0.1:1/v1/traces")
        .run(
            c -> {
              assertThat(c).hasSingleBean(OpenTelemetry.class);
              assertThat(c).hasSingleBean(io.opentracing.Tracer.class);
            });
  }

  @WorkflowInterface
  public interface Greeting {
    @WorkflowMethod
    String greet(String name);
  }

  @ActivityInterface
  public interface Greeter {
    String hello(String name);
  }

  public static class GreetingImpl implements Greeting {
    private final Greeter greeter =
        Workflow.newActivityStub(
            Greeter.class,
            ActivityOptions.newBuilder().setStartToCloseTimeout(Duration.ofSeconds(10)).build());

    @Override
    public String greet(String name) {
      return greeter.hello(name);
    }
  }

  @Test
  void workflowAndActivitySpansAreOneTraceWithTheStart() {
    var spans = InMemorySpanExporter.create();
    OpenTelemetrySdk sdk =
        TracingConfiguration.openTelemetry(SimpleSpanProcessor.create(spans), "gantry");
    var options =
        OpenTracingOptions.newBuilder()
            .setTracer(new TracingConfiguration().temporalTracer(sdk))
            .build();
    var env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setWorkflowClientOptions(
                    WorkflowClientOptions.newBuilder()
                        .setInterceptors(new OpenTracingClientInterceptor(options))
                        .build())
                .setWorkerFactoryOptions(
                    WorkerFactoryOptions.newBuilder()
                        .setWorkerInterceptors(new OpenTracingWorkerInterceptor(options))
                        .build())
                .build());
    try {
      var worker = env.newWorker("q");
      worker.registerWorkflowImplementationTypes(GreetingImpl.class);
      worker.registerActivitiesImplementations((Greeter) name -> "hello " + name);
      env.start();
      var workflow =
          env.getWorkflowClient()
              .newWorkflowStub(
                  Greeting.class, WorkflowOptions.newBuilder().setTaskQueue("q").build());
      assertThat(workflow.greet("you")).isEqualTo("hello you");
    } finally {
      env.close();
    }

    // Read before the SDK is closed: closing its exporter drops what it kept.
    List<SpanData> finished = spans.getFinishedSpanItems();
    sdk.close();
    assertThat(finished)
        .extracting(SpanData::getName)
        .contains(
            "StartWorkflow:Greeting",
            "RunWorkflow:Greeting",
            "StartActivity:Hello",
            "RunActivity:Hello");
    SpanData start =
        finished.stream()
            .filter(s -> s.getName().equals("StartWorkflow:Greeting"))
            .findFirst()
            .orElseThrow();
    assertThat(start.getParentSpanId()).isEqualTo(SpanId.getInvalid());
    assertThat(finished).extracting(SpanData::getTraceId).containsOnly(start.getTraceId());
    assertThat(
            start
                .getResource()
                .getAttribute(io.opentelemetry.api.common.AttributeKey.stringKey("service.name")))
        .isEqualTo("gantry");
  }
}
