package dev.gantry.gateway.inference;

import dev.gantry.gateway.deployment.WorkerLoad;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.usage.UsageRecord;
import dev.gantry.infra.usage.UsageRecorder;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.springframework.stereotype.Component;

/**
 * Turns a finished inference call into a usage record, handed to the batched recorder, and counts
 * every call, routed or refused, by outcome ({@code gantry.inference.requests}).
 */
@ConditionalOnGatewayRole
@Component
class UsageSink implements MeterBinder {
  /** nginx's status for a client that closed the connection before the answer ended. */
  static final int CLIENT_CLOSED = 499;

  private static final String[] OUTCOMES = {"1xx", "2xx", "3xx", "4xx", "5xx", "client_closed"};

  private final UsageRecorder recorder;
  private final Clock clock;
  private final WorkerLoad load;

  /** Set once bound; per-deployment meters are made on a deployment's first ended request. */
  private volatile MeterRegistry registry;

  private final Map<String, DeploymentMeters> deployments = new ConcurrentHashMap<>();

  /**
   * One deployment's meters. Tagged by deployment id only, never by request or worker id: the label
   * values are bounded by the number of deployments.
   */
  private record DeploymentMeters(Counter[] outcomes, Timer ttft, Timer latency) {}

  private static final String[] DEPLOYMENT_OUTCOMES = {
    "ok", "client_error", "server_error", "refused"
  };

  /** Calls ended, by index into {@link #OUTCOMES}. */
  private final LongAdder[] ended = new LongAdder[OUTCOMES.length];

  {
    for (int i = 0; i < ended.length; i++) {
      ended[i] = new LongAdder();
    }
  }

  UsageSink(UsageRecorder recorder, Clock clock, WorkerLoad load) {
    this.recorder = recorder;
    this.clock = clock;
    this.load = load;
  }

  /** A call that ended with {@code status} (499 when the client left before its answer ended). */
  void record(Call call, int status) {
    long nowMillis = clock.millis();
    ended[outcome(status)].increment();
    if (call.route == null) {
      return;
    }
    meter(call, status, nowMillis);
    recorder.record(
        new UsageRecord(
            call.requestId,
            call.deploymentId,
            call.route.tenantId(),
            call.workerId,
            call.rest,
            status,
            call.meter.promptTokens(),
            call.meter.completionTokens(call.streamed),
            call.streamed,
            Instant.ofEpochMilli(call.startedAtMillis),
            nowMillis - call.startedAtMillis,
            call.firstByteAtMillis == 0
                ? null
                : Math.max(0, call.firstByteAtMillis - call.startedAtMillis)));
  }

  /**
   * Counts the call by deployment and outcome, and times its latency and time to first byte. Only
   * calls that found their deployment's route get here, so an id a caller made up never becomes a
   * label.
   */
  private void meter(Call call, int status, long nowMillis) {
    MeterRegistry r = registry;
    if (r == null) {
      return;
    }
    var meters = deployments.computeIfAbsent(call.deploymentId, id -> register(r, id));
    meters.outcomes()[deploymentOutcome(status)].increment();
    if (call.workerId != null) {
      meters.latency().record(nowMillis - call.startedAtMillis, TimeUnit.MILLISECONDS);
    }
    if (call.firstByteAtMillis != 0) {
      meters
          .ttft()
          .record(
              Math.max(0, call.firstByteAtMillis - call.startedAtMillis), TimeUnit.MILLISECONDS);
    }
  }

  private DeploymentMeters register(MeterRegistry r, String deploymentId) {
    var outcomes = new Counter[DEPLOYMENT_OUTCOMES.length];
    for (int i = 0; i < outcomes.length; i++) {
      outcomes[i] =
          Counter.builder("gantry.deployment.requests")
              .tag("deployment", deploymentId)
              .tag("outcome", DEPLOYMENT_OUTCOMES[i])
              .description("Inference requests ended, by deployment and outcome (as the usage API)")
              .register(r);
    }
    Gauge.builder("gantry.deployment.requests.queued", load, l -> l.queue(deploymentId).queued())
        .tag("deployment", deploymentId)
        .description("Requests waiting for a worker of the deployment on this gateway")
        .register(r);
    Gauge.builder(
            "gantry.deployment.requests.in.flight", load, l -> l.queue(deploymentId).inFlight())
        .tag("deployment", deploymentId)
        .description("Requests on the deployment's workers from this gateway")
        .register(r);
    return new DeploymentMeters(
        outcomes,
        Timer.builder("gantry.deployment.ttft")
            .tag("deployment", deploymentId)
            .description("Time to the first byte of a worker's answer (a stream's first event)")
            .publishPercentileHistogram()
            .register(r),
        Timer.builder("gantry.deployment.latency")
            .tag("deployment", deploymentId)
            .description("Time from receipt to the last byte of answers a worker gave")
            .publishPercentileHistogram()
            .register(r));
  }

  /** The usage API's outcome of a status: refused is 429 and 503 (no capacity in time). */
  private static int deploymentOutcome(int status) {
    if (status == 429 || status == 503) {
      return 3;
    }
    return status >= 500 ? 2 : status >= 400 ? 1 : 0;
  }

  /** The index into {@link #OUTCOMES} of a status; anything out of range counts as a 5xx. */
  private static int outcome(int status) {
    if (status == CLIENT_CLOSED) {
      return OUTCOMES.length - 1;
    }
    return status >= 100 && status < 600 ? status / 100 - 1 : 4;
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    this.registry = registry;
    for (int i = 0; i < OUTCOMES.length; i++) {
      FunctionCounter.builder("gantry.inference.requests", ended[i], LongAdder::sum)
          .tag("outcome", OUTCOMES[i])
          .description("Inference requests ended (synchronous and async jobs' calls), by outcome")
          .register(registry);
    }
  }
}
