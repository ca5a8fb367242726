package dev.gantry.gateway.inference;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Time limits on what a client sends, for one server connection: a request head must be complete
 * within the header timeout of its first byte (or of the connection opening), a request body within
 * the body timeout of its head, and a connection that carries no request is closed after the
 * keep-alive timeout. A client that sends a partial request and goes silent, or trickles it a byte
 * at a time, is disconnected instead of holding its connection (and its buffers) forever.
 *
 * <p>Two handlers share this state: {@link #bytes} before the HTTP codec sees a request begin (the
 * codec says nothing until a head is complete), {@link #messages} after it sees heads, ends of
 * bodies and ends of answers. While an answer is under way nothing is read from the connection (the
 * server reads on demand), so a pipelined request waiting behind it is not timed until it is first
 * in line: its timer then starts again.
 */
final class RequestTimeouts {
  static final String BYTES = "gantry.request.bytes";
  static final String MESSAGES = "gantry.request.timeouts";
  private static final Logger log = LoggerFactory.getLogger(RequestTimeouts.class);

  private enum Phase {
    /** Between requests: nothing of the next one has arrived. */
    IDLE,
    /** A request head is arriving. */
    HEAD,
    /** A request body is arriving. */
    BODY
  }

  private final long headNanos;
  private final long bodyNanos;
  private final long idleNanos;

  // Touched on the connection's event loop only.
  private Phase phase = Phase.IDLE;
  private int answering;
  private ScheduledFuture<?> timer;

  final ChannelInboundHandlerAdapter bytes = new Bytes();
  final ChannelDuplexHandler messages = new Messages();

  RequestTimeouts(Duration head, Duration body, Duration idle) {
    this.headNanos = head.toNanos();
    this.bodyNanos = body.toNanos();
    this.idleNanos = idle.toNanos();
  }

  private void arm(ChannelHandlerContext ctx, long nanos) {
    cancel();
    timer = ctx.executor().schedule(() -> expired(ctx), nanos, TimeUnit.NANOSECONDS);
  }

  private void cancel() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void expired(ChannelHandlerContext ctx) {
    timer = null;
    if (!ctx.channel().isActive()) {
      return;
    }
    boolean behindAnother = phase == Phase.HEAD ? answering > 0 : answering > 1;
    if (phase != Phase.IDLE && behindAnother) {
      // Held behind an answer under way, so not being read: timed afresh once it is first.
      arm(ctx, phase == Phase.HEAD ? headNanos : bodyNanos);
      return;
    }
    if (phase == Phase.IDLE && answering > 0) {
      return;
    }
    log.debug(
        "Closing connection {}: {}",
        ctx.channel().remoteAddress(),
        switch (phase) {
          case HEAD -> "request head not complete in time";
          case BODY -> "request body not complete in time";
          case IDLE -> "idle";
        });
    ctx.close();
  }

  private void requestEnded(ChannelHandlerContext ctx) {
    phase = Phase.IDLE;
    cancel();
    if (answering == 0) {
      arm(ctx, idleNanos);
    }
  }

  private final class Bytes extends ChannelInboundHandlerAdapter {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      phase = Phase.HEAD;
      arm(ctx, headNanos);
      ctx.fireChannelActive();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      if (ctx.channel().isActive() && timer == null) {
        // Added to a connection that is already open: its first request is timed from now.
        phase = Phase.HEAD;
        arm(ctx, headNanos);
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (phase == Phase.IDLE && msg instanceof ByteBuf buf && buf.isReadable()) {
        phase = Phase.HEAD;
        arm(ctx, headNanos);
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      cancel();
      ctx.fireChannelInactive();
    }
  }

  private final class Messages extends ChannelDuplexHandler {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpRequest) {
        answering++;
        if (msg instanceof LastHttpContent) {
          requestEnded(ctx);
        } else {
          phase = Phase.BODY;
          arm(ctx, bodyNanos);
        }
      } else if (msg instanceof LastHttpContent && phase == Phase.BODY) {
        requestEnded(ctx);
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      if (msg instanceof LastHttpContent
          && !(msg instanceof HttpResponse r
              && r.status().codeClass() == HttpStatusClass.INFORMATIONAL)
          && answering > 0
          && --answering == 0
          && phase == Phase.IDLE) {
        arm(ctx, idleNanos);
      }
      ctx.write(msg, promise);
    }
  }
}
