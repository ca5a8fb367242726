package dev.gantry.gateway.inference;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.NettyPipeline;

/**
 * Sits right after the HTTP codec of every server connection and takes the {@code /openai/**}
 * requests off it: they are answered at the Netty level ({@link Exchange}) and never reach Reactor
 * Netty's request handling or WebFlux. Every other request passes through untouched.
 *
 * <p>Responses on one connection must leave in the order the requests came (HTTP/1.1 pipelining),
 * so while a request is being answered, by either side, the next requests on the connection are
 * held here and handed on when that answer has been written in full. A pass-through answer is seen
 * ending as its last part is written past this handler.
 */
final class InferenceConnection extends ChannelDuplexHandler {
  static final String NAME = "gantry.inference";

  /** Pipelined requests held at once before the connection is closed as abusive. */
  private static final int MAX_HELD = 1024;

  private static final Logger log = LoggerFactory.getLogger(InferenceConnection.class);

  private final InferenceProxy proxy;
  private final ArrayDeque<Object> held = new ArrayDeque<>();

  /** The inference request being answered on this connection, or null. */
  private Exchange exchange;

  /** A request handed to the application whose answer has not been written in full. */
  private boolean passing;

  /** Whether the body of the passed-through request is still arriving. */
  private boolean passingBody;

  InferenceConnection(InferenceProxy proxy) {
    this.proxy = proxy;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (bodyPart(msg)
        && ((exchange != null && exchange.receivingBody())
            || passingBody
            || (held.isEmpty() && exchange == null && !passing))) {
      forward(ctx, (HttpContent) msg);
      return;
    }
    if (exchange != null || passing || !held.isEmpty()) {
      hold(ctx, msg);
      return;
    }
    dispatch(ctx, msg);
  }

  private static boolean bodyPart(Object msg) {
    return msg instanceof HttpContent && !(msg instanceof HttpRequest);
  }

  /** A part of a request body: to the exchange reading it, else on to the application. */
  private void forward(ChannelHandlerContext ctx, HttpContent content) {
    if (exchange != null && exchange.receivingBody()) {
      exchange.requestContent(content);
    } else {
      passingBody &= !(content instanceof LastHttpContent);
      ctx.fireChannelRead(content);
    }
  }

  private void dispatch(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request && Call.handles(request.uri())) {
      if (ctx.pipeline().get(NettyPipeline.IdleTimeoutHandler) != null) {
        // Reactor Netty's idle timeout (when configured) would end a long generation; it is put
        // back when the connection next carries a request of the application.
        ctx.pipeline().remove(NettyPipeline.IdleTimeoutHandler);
      }
      exchange = proxy.exchange(ctx, request, this);
      // Assigned before it starts: an answer given at once ends it before start returns.
      exchange.start(request);
      if (exchange != null && msg instanceof HttpContent content) {
        exchange.requestContent(content);
      }
      if (exchange != null && exchange.receivingBody()) {
        ctx.read();
      }
      return;
    }
    if (msg instanceof HttpRequest) {
      passing = true;
      passingBody = !(msg instanceof LastHttpContent);
    }
    ctx.fireChannelRead(msg);
  }

  private void hold(ChannelHandlerContext ctx, Object msg) {
    if (held.size() >= MAX_HELD) {
      ReferenceCountUtil.release(msg);
      ctx.close();
      return;
    }
    held.add(msg);
  }

  /**
   * Hands on the held requests, up to the next one that must wait for its turn (a request's own
   * body parts follow it), then asks for more input if anything wants it.
   */
  private void resume(ChannelHandlerContext ctx) {
    while (!held.isEmpty()
        && ctx.channel().isActive()
        && (bodyPart(held.peek()) || (exchange == null && !passing))) {
      Object next = held.poll();
      if (bodyPart(next)) {
        forward(ctx, (HttpContent) next);
      } else {
        dispatch(ctx, next);
      }
    }
    if ((exchange == null && !passing && held.isEmpty())
        || (exchange != null && exchange.receivingBody())) {
      ctx.read();
    }
  }

  /** Called by the exchange when its answer has been written in full and its request read. */
  void exchangeEnded(ChannelHandlerContext ctx, Exchange ended) {
    if (exchange != ended) {
      return;
    }
    exchange = null;
    if (held.isEmpty()) {
      // The server reads on demand (auto-read off): ask for the connection's next request.
      ctx.read();
    } else {
      ctx.executor().execute(() -> resume(ctx));
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (exchange == null) {
      ctx.fireChannelReadComplete();
    } else if (exchange.receivingBody()) {
      ctx.read();
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    boolean ends =
        passing
            && msg instanceof LastHttpContent
            && !(msg instanceof HttpResponse r
                && r.status().codeClass() == HttpStatusClass.INFORMATIONAL);
    ctx.write(msg, promise);
    if (ends) {
      passing = false;
      if (!held.isEmpty()) {
        ctx.executor().execute(() -> resume(ctx));
      } else {
        // The server reads on demand (auto-read off). An answer that ends before its request was
        // read in full (a refusal by a filter) can leave no read pending once the rest of the
        // request is in: ask for the connection's next input, so its next request is not left
        // unread on the socket.
        ctx.read();
      }
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (exchange != null) {
      exchange.writabilityChanged();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    Exchange r = exchange;
    exchange = null;
    if (r != null) {
      r.clientLeft();
    }
    while (!held.isEmpty()) {
      ReferenceCountUtil.release(held.poll());
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (exchange != null) {
      // A broken client connection while answering an inference request: end it; channelInactive
      // cleans up.
      log.debug(
          "Client connection failed while answering an inference request: {}", cause.toString());
      ctx.close();
      return;
    }
    ctx.fireExceptionCaught(cause);
  }
}
