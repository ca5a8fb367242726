package dev.gantry.gateway.inference;

import io.netty.handler.timeout.ReadTimeoutException;

/**
 * When a worker call is made again, for synchronous requests and async jobs alike. A request is
 * only ever sent again when it cannot have reached an engine:
 *
 * <ul>
 *   <li>once on a new connection to the same worker, when a kept-alive connection failed before the
 *       worker said anything (the worker closed it as the request went out);
 *   <li>once on another worker, when the worker could not be reached at all (the caller then waits
 *       again in the queue if no other worker has a free slot).
 * </ul>
 *
 * One per request; not thread-safe (a request runs on one event loop).
 */
final class RetryPolicy {
  private boolean triedNewConnection;
  private boolean triedOtherWorker;

  /** Whether to send the request once more on a new connection to the same worker. */
  boolean newConnection(Throwable cause, boolean reusedConnection, boolean heardFromWorker) {
    if (!reusedConnection
        || heardFromWorker
        || triedNewConnection
        || cause instanceof ReadTimeoutException) {
      return false;
    }
    triedNewConnection = true;
    return true;
  }

  /** Whether another worker may be tried after this one could not be reached. */
  boolean mayTryOtherWorker() {
    return !triedOtherWorker;
  }

  /** The request goes to another worker: it may meet a closed kept-alive connection there too. */
  void onOtherWorker() {
    triedOtherWorker = true;
    triedNewConnection = false;
  }

  /** The request waited again and got a new slot. */
  void onReadmitted() {
    triedNewConnection = false;
  }
}
