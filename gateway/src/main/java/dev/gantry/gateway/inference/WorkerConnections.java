package dev.gantry.gateway.inference;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Where worker calls get their connections: per event loop and worker, kept alive between calls
 * ({@link UpstreamPool}). A connection's pipeline ends with an {@link UpstreamHandler}.
 */
interface WorkerConnections extends AutoCloseable {
  /**
   * The connections to {@code upstream} used on {@code loop}, of the transport {@code type} (epoll
   * or NIO, as the caller's own connection). Used only on {@code loop}.
   */
  Connections on(EventLoop loop, Class<? extends Channel> type, Upstream upstream);

  /** Connections out of all pools now: acquired, or being made, and not yet given back. */
  int leased();

  /** How many pools there are now. */
  int size();

  @Override
  void close();

  /** The connections to one worker on one event loop. */
  interface Connections {
    /**
     * A connection: a pooled one that is fresh enough, or a new one; with {@code fresh} always a
     * new one. It must come back through {@link #giveBack} or {@link #drop}, unless the future
     * fails.
     */
    Future<Channel> take(boolean fresh);

    /** Gives back a connection that may carry another request. */
    void giveBack(Channel ch);

    /** Closes a connection that must not be reused, and gives it back. */
    void drop(Channel ch);

    /** Whether {@code ch} has carried a request before (so the worker may have closed it). */
    boolean reused(Channel ch);
  }
}
