package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.usage.UsageRecord;
import dev.gantry.infra.usage.UsageRecorder;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Instant;
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

  /** Calls ended, by index into {@link #OUTCOMES}. */
  private final LongAdder[] ended = new LongAdder[OUTCOMES.length];

  {
    for (int i = 0; i < ended.length; i++) {
      ended[i] = new LongAdder();
    }
  }

  UsageSink(UsageRecorder recorder, Clock clock) {
    this.recorder = recorder;
    this.clock = clock;
  }

  /** A call that ended with {@code status} (499 when the client left before its answer ended). */
  void record(Call call, int status) {
    long nowMillis = clock.millis();
    ended[outcome(status)].increment();
    if (call.route == null) {
      return;
    }
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

  /** The index into {@link #OUTCOMES} of a status; anything out of range counts as a 5xx. */
  private static int outcome(int status) {
    if (status == CLIENT_CLOSED) {
      return OUTCOMES.length - 1;
    }
    return status >= 100 && status < 600 ? status / 100 - 1 : 4;
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    for (int i = 0; i < OUTCOMES.length; i++) {
      FunctionCounter.builder("gantry.inference.requests", ended[i], LongAdder::sum)
          .tag("outcome", OUTCOMES[i])
          .description("Inference requests ended (synchronous and async jobs' calls), by outcome")
          .register(registry);
    }
  }
}
