package dev.gantry.gateway.inference;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.AbstractChannelPoolMap;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.SimpleChannelPool;
import io.netty.handler.codec.http.HttpClientCodec;
import java.time.Duration;

/**
 * Keep-alive connections to workers: one Netty {@link SimpleChannelPool} (most recently used first,
 * closed connections dropped on acquire and release) per event loop and worker endpoint. A
 * request's worker connection lives on the event loop of the caller's connection, so a relay never
 * crosses threads or takes a lock.
 */
final class UpstreamPool implements AutoCloseable {
  /** Largest response head (status line and headers) accepted from a worker. */
  private static final int MAX_HEADER_BYTES = 16 * 1024;

  private record Key(EventLoop loop, Class<? extends Channel> type, String host, int port) {}

  private final int connectTimeoutMillis;

  private final AbstractChannelPoolMap<Key, SimpleChannelPool> pools =
      new AbstractChannelPoolMap<>() {
        @Override
        protected SimpleChannelPool newPool(Key key) {
          var bootstrap =
              new Bootstrap()
                  .group(key.loop)
                  .channel(key.type)
                  .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                  .option(ChannelOption.TCP_NODELAY, true)
                  .remoteAddress(key.host, key.port);
          return new SimpleChannelPool(
              bootstrap,
              new AbstractChannelPoolHandler() {
                @Override
                public void channelCreated(Channel ch) {
                  ch.pipeline()
                      .addLast(new HttpClientCodec(4096, MAX_HEADER_BYTES, 8192))
                      .addLast(UpstreamHandler.NAME, new UpstreamHandler());
                }
              },
              ChannelHealthChecker.ACTIVE,
              true,
              true);
        }
      };

  UpstreamPool(Duration connectTimeout) {
    this.connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
  }

  /**
   * The pool of connections to {@code upstream} on the event loop of {@code caller} (the client's
   * connection), of the same transport (epoll or NIO) as it. Connections acquired from it must be
   * given back to it, closed first when they cannot be reused.
   */
  SimpleChannelPool poolFor(Channel caller, Upstream upstream) {
    return pools.get(new Key(caller.eventLoop(), caller.getClass(), upstream.host, upstream.port));
  }

  @Override
  public void close() {
    pools.close();
  }
}
