package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.usage.UsageRecord;
import dev.gantry.infra.usage.UsageRecorder;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Instant;
import java.util.concurrent.atomic.LongAdder;
import org.springframework.stereotype.Component;
import reactor.core.publisher.SignalType;
import reactor.netty.channel.AbortedException;

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

  /** Calls ended, by index into {@link #OUTCOMES}. */
  private final LongAdder[] ended = new LongAdder[OUTCOMES.length];

  {
    for (int i = 0; i < ended.length; i++) {
      ended[i] = new LongAdder();
    }
  }

  UsageSink(UsageRecorder recorder) {
    this.recorder = recorder;
  }

  /** An async job's call, ended by {@code signal}. */
  void record(InferenceProxy.Call call, SignalType signal, int answered, long nowMillis) {
    int status =
        switch (signal) {
          case CANCEL -> CLIENT_CLOSED;
          // The answer had started: either the client went away or the worker broke off.
          case ON_ERROR ->
              clientWentAway(call.failure)
                  ? CLIENT_CLOSED
                  // Refused (admission, checks) with its own status; else the worker broke off.
                  : call.failure instanceof InferenceException ? answered : 502;
          default -> call.clientLeft ? CLIENT_CLOSED : answered;
        };
    record(call, status, nowMillis);
  }

  /** A call that ended with {@code status} (499 when the client left before its answer ended). */
  void record(InferenceProxy.Call call, int status, long nowMillis) {
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
            nowMillis - call.startedAtMillis));
  }

  /** The index into {@link #OUTCOMES} of a status; anything out of range counts as a 5xx. */
  private static int outcome(int status) {
    if (status == CLIENT_CLOSED) {
      return OUTCOMES.length - 1;
    }
    return status >= 100 && status < 600 ? status / 100 - 1 : 4;
  }

  private static boolean clientWentAway(Throwable e) {
    return e instanceof AbortedException || AbortedException.isConnectionReset(e);
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
