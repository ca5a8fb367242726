package dev.gantry.gateway.inference;

import io.netty.handler.timeout.ReadTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;

/**
 * The one reading of a failed worker call, for synchronous requests and async jobs alike: what it
 * says about the worker, and the error table's answer (docs/api.md) when it is not retried.
 */
final class WorkerFailures {
  private static final Logger log = LoggerFactory.getLogger(WorkerFailures.class);

  private WorkerFailures() {}

  /** The worker could not be reached: the request was never sent. */
  static boolean unreachable(Throwable e) {
    return e instanceof ConnectException
        || e instanceof io.netty.channel.ConnectTimeoutException
        || e.getCause() instanceof ConnectException;
  }

  /** A failure that says the worker is gone or hung, not that this one request went wrong. */
  static boolean inTrouble(Throwable e) {
    return e instanceof UpstreamHandler.ClosedEarly
        || e instanceof ReadTimeoutException
        || e instanceof IOException;
  }

  /** The answer to a request whose worker call failed before any of the answer was relayed. */
  static InferenceException answerFor(Throwable e, String workerId, String requestId) {
    if (unreachable(e)) {
      return InferenceException.unreachable();
    }
    if (e instanceof InferenceException ie) {
      return ie;
    }
    if (e instanceof ReadTimeoutException) {
      return new InferenceException(
          HttpStatus.GATEWAY_TIMEOUT, "Inference timed out, please retry");
    }
    log.warn("Worker {} failed request {}: {}", workerId, requestId, e.toString());
    return InferenceException.badGateway();
  }
}
