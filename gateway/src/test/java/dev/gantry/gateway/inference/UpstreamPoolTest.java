package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Keep-alive connections to workers, against a real listening socket: reuse, the count of
 * connections out, and the sweep that closes stale idle connections and removes unused pools.
 */
@Timeout(30)
class UpstreamPoolTest {
  static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  final MultiThreadIoEventLoopGroup group =
      new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  final EventLoop loop = group.next();
  final UpstreamPool pools = new UpstreamPool(Duration.ofSeconds(2));
  final List<Socket> accepted = new CopyOnWriteArrayList<>();
  ServerSocket worker;
  Channel caller;

  @BeforeEach
  void listen() throws Exception {
    worker = new ServerSocket(0);
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                while (true) {
                  accepted.add(worker.accept());
                }
              } catch (IOException closed) {
                // The test is over.
              }
            });
    // A client connection of the pools' transport, on the loop whose pools are under test.
    caller = new NioSocketChannel();
    loop.register(caller).sync();
  }

  @AfterEach
  void close() throws Exception {
    pools.close();
    worker.close();
    for (Socket s : accepted) {
      s.close();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
  }

  <T> T onLoop(Callable<T> task) throws Exception {
    return loop.submit(task).get(5, TimeUnit.SECONDS);
  }

  void run(Runnable task) throws Exception {
    loop.submit(task).get(5, TimeUnit.SECONDS);
  }

  UpstreamPool.Pool pool(int port) throws Exception {
    var upstream = new Upstream("w1", "http://127.0.0.1:" + port);
    return onLoop(() -> pools.poolFor(caller, upstream));
  }

  Channel take(UpstreamPool.Pool pool, boolean fresh) throws Exception {
    return onLoop(() -> pool.take(fresh)).get(5, TimeUnit.SECONDS);
  }

  @Test
  void aGivenBackConnectionIsReusedUnlessANewOneIsAsked() throws Exception {
    var pool = pool(worker.getLocalPort());
    Channel first = take(pool, false);
    assertThat(onLoop(pool::leased)).isEqualTo(1);
    run(() -> pool.giveBack(first));

    Channel again = take(pool, false);
    assertThat(again).isSameAs(first);
    Channel fresh = take(pool, true);
    assertThat(fresh).isNotSameAs(first);
    assertThat(onLoop(pool::leased)).isEqualTo(2);

    run(() -> pool.giveBack(again));
    run(() -> pool.drop(fresh));
    assertThat(onLoop(pool::leased)).isZero();
    fresh.closeFuture().sync();
    assertThat(take(pool, false)).as("the dropped one is not reused").isSameAs(first);
  }

  @Test
  void aFailedConnectionIsNotCountedAsOut() throws Exception {
    int closedPort;
    try (var s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    var pool = pool(closedPort);
    var acquired = onLoop(() -> pool.take(false));
    assertThat(acquired.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(acquired.isSuccess()).isFalse();
    assertThat(onLoop(pool::leased)).isZero();
  }

  @Test
  void theSweepClosesStaleIdleConnectionsAndKeepsFreshOnes() throws Exception {
    var pool = pool(worker.getLocalPort());
    Channel older = take(pool, false);
    Channel newer = take(pool, true);
    run(() -> pool.giveBack(older));
    run(() -> pool.giveBack(newer));

    // Both fresh: kept, and still handed out newest first.
    assertThat(onLoop(() -> sweepNow(System.nanoTime()))).isOne();
    assertThat(older.isActive()).isTrue();
    assertThat(newer.isActive()).isTrue();
    assertThat(take(pool, false)).isSameAs(newer);
    run(() -> pool.giveBack(newer));

    // Later than the idle limit: closed, but the pool stays while it was used recently.
    long later = System.nanoTime() + UpstreamPool.MAX_IDLE_NANOS + SECOND;
    assertThat(onLoop(() -> sweepNow(later))).isOne();
    older.closeFuture().sync();
    newer.closeFuture().sync();
    assertThat(take(pool, false)).isNotIn(older, newer);
  }

  @Test
  void anUnusedEmptyPoolIsRemovedButNotOneWithAConnectionOut() throws Exception {
    var pool = pool(worker.getLocalPort());
    Channel out = take(pool, false);
    long muchLater = System.nanoTime() + UpstreamPool.UNUSED_POOL_NANOS + SECOND;

    assertThat(onLoop(() -> sweepNow(muchLater))).as("a connection is out").isOne();
    assertThat(out.isActive()).isTrue();

    run(() -> pool.giveBack(out));
    assertThat(onLoop(() -> sweepNow(muchLater))).isZero();
    out.closeFuture().sync();
    assertThat(pool(worker.getLocalPort())).as("made anew when asked again").isNotSameAs(pool);
  }

  /** Sweeps the loop's pools as of {@code nowNanos}; how many pools are left. */
  int sweepNow(long nowNanos) {
    pools.sweep(loop, nowNanos);
    return pools.size();
  }
}
