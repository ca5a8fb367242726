package dev.gantry.gateway.inference;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Ends a client connection that may still be sending a request body we refused (a 413, say) the way
 * nginx's lingering close does: the answer is followed by an orderly end of our side, and what the
 * client still sends is read and dropped until it closes, goes quiet for {@link #QUIET_NANOS} or
 * {@link #MAX_NANOS} have passed. Closing at once with unread input makes the kernel send a reset,
 * which can destroy the answer before the client has read it.
 */
final class LingeringClose extends ChannelInboundHandlerAdapter {
  static final String NAME = "gantry.lingeringClose";
  static final long QUIET_NANOS = TimeUnit.SECONDS.toNanos(2);
  static final long MAX_NANOS = TimeUnit.SECONDS.toNanos(10);
  private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  private final long startNanos = System.nanoTime();
  private long lastReadNanos = startNanos;
  private ScheduledFuture<?> check;

  private LingeringClose() {}

  /** Closes {@code ch}, lingering if it can half-close; on its event loop, after the answer. */
  static void close(Channel ch) {
    if (!(ch instanceof DuplexChannel duplex) || !ch.isActive()) {
      ch.close();
      return;
    }
    var linger = new LingeringClose();
    // First in the pipeline: nothing read from now on is decoded or reaches a request handler.
    ch.pipeline().addFirst(NAME, linger);
    duplex
        .shutdownOutput()
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                ch.close();
                return;
              }
              linger.check =
                  ch.eventLoop()
                      .scheduleWithFixedDelay(
                          () -> linger.closeIfDue(ch),
                          CHECK_NANOS,
                          CHECK_NANOS,
                          TimeUnit.NANOSECONDS);
              ch.config().setAutoRead(true);
            });
  }

  private void closeIfDue(Channel ch) {
    long now = System.nanoTime();
    // Also when it closed before this check was scheduled: the check must not outlive it.
    if (!ch.isActive() || now - lastReadNanos >= QUIET_NANOS || now - startNanos >= MAX_NANOS) {
      check.cancel(false);
      ch.close();
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    lastReadNanos = System.nanoTime();
    ReferenceCountUtil.release(msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    // Auto-read is on: nothing to ask for, and nobody after us to tell.
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (check != null) {
      check.cancel(false);
    }
    ctx.fireChannelInactive();
  }
}
