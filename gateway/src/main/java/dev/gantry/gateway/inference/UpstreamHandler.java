package dev.gantry.gateway.inference;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;

/**
 * The end of a worker connection's pipeline: hands what the worker sends to the request the
 * connection is serving now, and tells it when the connection breaks. Between requests (pooled and
 * idle) anything the worker sends is dropped, and a failure only closes the connection.
 */
final class UpstreamHandler extends ChannelInboundHandlerAdapter {
  static final String NAME = "gantry.upstream";

  /** What a worker connection reports to the request it serves; called on its event loop. */
  interface Listener {
    /** A response head or body part from the worker; the listener owns (and releases) it. */
    void upstreamRead(HttpObject message);

    /** The end of one read from the connection: a good time to flush what it brought. */
    void upstreamReadComplete();

    /** The connection closed or failed before the response ended. */
    void upstreamFailed(Throwable cause);
  }

  /** Thrown to a listener when the worker closed the connection before the response ended. */
  static final class ClosedEarly extends RuntimeException {
    ClosedEarly() {
      super("The worker closed the connection before the response ended", null, false, false);
    }
  }

  private Listener listener;

  static UpstreamHandler of(Channel channel) {
    return (UpstreamHandler) channel.pipeline().get(NAME);
  }

  /** Starts serving a request; {@code null} when it ends. */
  void listener(Listener listener) {
    this.listener = listener;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Listener l = listener;
    if (l != null && msg instanceof HttpObject http) {
      l.upstreamRead(http);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    Listener l = listener;
    if (l != null) {
      l.upstreamReadComplete();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    Listener l = listener;
    listener = null;
    if (l != null) {
      l.upstreamFailed(new ClosedEarly());
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    Listener l = listener;
    listener = null;
    ctx.close();
    if (l != null) {
      l.upstreamFailed(cause);
    }
  }
}
