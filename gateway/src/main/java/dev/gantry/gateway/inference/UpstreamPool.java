package dev.gantry.gateway.inference;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.AbstractChannelPoolMap;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.ChannelPoolHandler;
import io.netty.channel.pool.SimpleChannelPool;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Keep-alive connections to workers: one Netty {@link SimpleChannelPool} (most recently used first,
 * closed connections dropped on acquire and release) per event loop and worker endpoint. A
 * request's worker connection lives on the event loop of the caller's connection, so a relay never
 * crosses threads or takes a lock.
 */
final class UpstreamPool implements AutoCloseable {
  /** Largest response head (status line and headers) accepted from a worker. */
  private static final int MAX_HEADER_BYTES = 16 * 1024;

  /**
   * How long a connection may sit idle and still be reused: less than the keep-alive timeout of the
   * engines' HTTP servers (uvicorn's 5 s for vLLM and SGLang), so a connection the worker is about
   * to close is not picked.
   */
  static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(4);

  /** When a pooled connection was given back (System.nanoTime). */
  static final AttributeKey<Long> IDLE_SINCE = AttributeKey.valueOf("gantry.idleSince");

  /** Alive, and not idle for so long that the worker may be closing it. */
  private static final ChannelHealthChecker FRESH_ENOUGH =
      ch -> {
        Long since = ch.attr(IDLE_SINCE).get();
        boolean healthy =
            ch.isActive() && (since == null || System.nanoTime() - since < MAX_IDLE_NANOS);
        return ch.eventLoop().newSucceededFuture(healthy);
      };

  /** A pool that can also be asked for a new connection, skipping the idle ones. */
  static final class Pool extends SimpleChannelPool {
    private boolean skipIdle;

    Pool(Bootstrap bootstrap, ChannelPoolHandler handler) {
      super(bootstrap, handler, FRESH_ENOUGH, true, true);
    }

    /** A newly made connection; called on the pool's event loop, where acquiring is synchronous. */
    Future<Channel> acquireNew() {
      skipIdle = true;
      try {
        return acquire();
      } finally {
        skipIdle = false;
      }
    }

    @Override
    protected Channel pollChannel() {
      return skipIdle ? null : super.pollChannel();
    }

    /** Gives a connection back, marked with when it became idle. */
    void giveBack(Channel ch) {
      ch.attr(IDLE_SINCE).set(System.nanoTime());
      release(ch);
    }
  }

  private record Key(EventLoop loop, Class<? extends Channel> type, String host, int port) {}

  private final int connectTimeoutMillis;

  private final AbstractChannelPoolMap<Key, Pool> pools =
      new AbstractChannelPoolMap<>() {
        @Override
        protected Pool newPool(Key key) {
          var bootstrap =
              new Bootstrap()
                  .group(key.loop)
                  .channel(key.type)
                  .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                  .option(ChannelOption.TCP_NODELAY, true)
                  .remoteAddress(key.host, key.port);
          return new Pool(
              bootstrap,
              new AbstractChannelPoolHandler() {
                @Override
                public void channelCreated(Channel ch) {
                  ch.pipeline()
                      .addLast(new HttpClientCodec(4096, MAX_HEADER_BYTES, 8192))
                      .addLast(UpstreamHandler.NAME, new UpstreamHandler());
                }
              });
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
  Pool poolFor(Channel caller, Upstream upstream) {
    return pools.get(new Key(caller.eventLoop(), caller.getClass(), upstream.host, upstream.port));
  }

  @Override
  public void close() {
    pools.close();
  }
}
