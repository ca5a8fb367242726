package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.usage.UsageRecord;
import dev.gantry.infra.usage.UsageRecorder;
import java.time.Instant;
import org.springframework.stereotype.Component;
import reactor.core.publisher.SignalType;
import reactor.netty.channel.AbortedException;

/** Turns a finished inference call into a usage record, handed to the batched recorder. */
@ConditionalOnGatewayRole
@Component
class UsageSink {
  /** nginx's status for a client that closed the connection before the answer ended. */
  static final int CLIENT_CLOSED = 499;

  private final UsageRecorder recorder;

  UsageSink(UsageRecorder recorder) {
    this.recorder = recorder;
  }

  /** An async job's call, ended by {@code signal}. */
  void record(InferenceProxy.Call call, SignalType signal, int answered, long nowMillis) {
    int status =
        switch (signal) {
          case CANCEL -> CLIENT_CLOSED;
          // The answer had started: either the client went away or the worker broke off.
          case ON_ERROR -> clientWentAway(call.failure) ? CLIENT_CLOSED : 502;
          default -> call.clientLeft ? CLIENT_CLOSED : answered;
        };
    record(call, status, nowMillis);
  }

  /** A call that ended with {@code status} (499 when the client left before its answer ended). */
  void record(InferenceProxy.Call call, int status, long nowMillis) {
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

  private static boolean clientWentAway(Throwable e) {
    return e instanceof AbortedException || AbortedException.isConnectionReset(e);
  }
}
