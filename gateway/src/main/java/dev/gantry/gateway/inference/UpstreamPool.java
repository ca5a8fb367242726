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
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keep-alive connections to workers: one Netty {@link SimpleChannelPool} (most recently used first,
 * closed connections dropped on acquire and release) per event loop and worker endpoint. A
 * request's worker connection lives on the event loop of the caller's connection, so a relay never
 * crosses threads or takes a lock.
 */
final class UpstreamPool implements WorkerConnections {
  private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);

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

  /** Whether a connection has been idle in a pool, so has carried a request before. */
  static boolean wasIdle(Channel ch) {
    return ch.hasAttr(IDLE_SINCE);
  }

  /** Alive, and not idle for so long that the worker may be closing it. */
  private static final ChannelHealthChecker FRESH_ENOUGH =
      ch -> {
        Long since = ch.attr(IDLE_SINCE).get();
        boolean healthy =
            ch.isActive() && (since == null || System.nanoTime() - since < MAX_IDLE_NANOS);
        return ch.eventLoop().newSucceededFuture(healthy);
      };

  /**
   * A pool that can also be asked for a new connection, skipping the idle ones. Used only on its
   * event loop; it counts the connections out of it, so an unused one can be swept away.
   */
  static final class Pool extends SimpleChannelPool implements Connections {
    private boolean skipIdle;

    /**
     * Connections acquired (or being made) and not yet given back or dropped. Written only on the
     * pool's event loop; volatile so that others can read it.
     */
    private volatile int leased;

    /** When a connection was last asked for (System.nanoTime). */
    private long lastUsedNanos = System.nanoTime();

    Pool(Bootstrap bootstrap, ChannelPoolHandler handler) {
      super(bootstrap, handler, FRESH_ENOUGH, true, true);
    }

    /**
     * A connection: a pooled one that is fresh enough, or a new one; with {@code fresh} always a
     * new one. Called on the pool's event loop, where taking a pooled connection is synchronous. It
     * must come back through {@link #giveBack} or {@link #drop}, unless the future fails.
     */
    @Override
    public Future<Channel> take(boolean fresh) {
      lastUsedNanos = System.nanoTime();
      leased++;
      skipIdle = fresh;
      Future<Channel> acquired;
      try {
        acquired = acquire();
      } finally {
        skipIdle = false;
      }
      acquired.addListener(
          f -> {
            if (!f.isSuccess()) {
              leased--;
            }
          });
      return acquired;
    }

    @Override
    protected Channel pollChannel() {
      return skipIdle ? null : super.pollChannel();
    }

    /** Gives a connection back, marked with when it became idle. */
    @Override
    public void giveBack(Channel ch) {
      leased--;
      ch.attr(IDLE_SINCE).set(System.nanoTime());
      release(ch);
    }

    /** Closes a connection that must not be reused, and gives it back. */
    @Override
    public void drop(Channel ch) {
      leased--;
      ch.close();
      release(ch);
    }

    /**
     * Closes the idle connections that are dead or too old to reuse, keeping the others in their
     * order; whether the pool is then empty and unused for {@code unusedNanos}.
     */
    boolean sweep(long nowNanos, long unusedNanos) {
      var kept = new ArrayDeque<Channel>();
      for (Channel ch = super.pollChannel(); ch != null; ch = super.pollChannel()) {
        Long since = ch.attr(IDLE_SINCE).get();
        if (ch.isActive() && (since == null || nowNanos - since < MAX_IDLE_NANOS)) {
          // Polled newest first; pushed back so the oldest is offered first again.
          kept.push(ch);
        } else {
          ch.close();
        }
      }
      kept.forEach(this::offerChannel);
      return kept.isEmpty() && leased == 0 && nowNanos - lastUsedNanos > unusedNanos;
    }

    int leased() {
      return leased;
    }

    @Override
    public boolean reused(Channel ch) {
      return wasIdle(ch);
    }
  }

  private record Key(EventLoop loop, Class<? extends Channel> type, String host, int port) {}

  /** How often each event loop sweeps its pools. */
  static final Duration SWEEP_INTERVAL = Duration.ofSeconds(30);

  /** A pool unused for this long, with no connections, is removed: its worker may be gone. */
  static final long UNUSED_POOL_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final int connectTimeoutMillis;
  private final Set<EventLoop> sweeping = ConcurrentHashMap.newKeySet();
  private final Queue<ScheduledFuture<?>> sweeps = new ConcurrentLinkedQueue<>();

  private final AbstractChannelPoolMap<Key, Pool> pools =
      new AbstractChannelPoolMap<>() {
        @Override
        protected Pool newPool(Key key) {
          if (sweeping.add(key.loop)) {
            long every = SWEEP_INTERVAL.toNanos();
            sweeps.add(
                key.loop.scheduleWithFixedDelay(
                    () -> sweepQuietly(key.loop), every, every, TimeUnit.NANOSECONDS));
          }
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
    return on(caller.eventLoop(), caller.getClass(), upstream);
  }

  @Override
  public Pool on(EventLoop loop, Class<? extends Channel> type, Upstream upstream) {
    return pools.get(new Key(loop, type, upstream.host, upstream.port));
  }

  /**
   * On {@code loop}: closes its pools' idle connections that are dead or too old to reuse, and
   * removes its pools that are empty and unused for {@link #UNUSED_POOL_NANOS}, such as those of
   * workers that are gone. Only {@code loop} uses its pools, so none is in use while it is removed.
   */
  void sweep(EventLoop loop, long nowNanos) {
    for (Map.Entry<Key, Pool> entry : pools) {
      if (entry.getKey().loop == loop && entry.getValue().sweep(nowNanos, UNUSED_POOL_NANOS)) {
        pools.remove(entry.getKey());
      }
    }
  }

  /** A sweep that cannot stop the next ones: a periodic task that throws is not run again. */
  private void sweepQuietly(EventLoop loop) {
    try {
      sweep(loop, System.nanoTime());
    } catch (RuntimeException e) {
      log.warn("Sweeping worker connection pools failed", e);
    }
  }

  @Override
  public int leased() {
    int n = 0;
    for (Map.Entry<Key, Pool> entry : pools) {
      n += entry.getValue().leased();
    }
    return n;
  }

  @Override
  public int size() {
    return pools.size();
  }

  @Override
  public void close() {
    sweeps.forEach(f -> f.cancel(false));
    pools.close();
  }
}
