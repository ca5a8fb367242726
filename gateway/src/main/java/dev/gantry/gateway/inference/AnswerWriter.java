package dev.gantry.gateway.inference;

import dev.gantry.gateway.error.ErrorBodies;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.ReadTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.springframework.http.HttpStatus;

/**
 * Writes one request's answer to the client's connection: the gateway's own answers (errors in the
 * OpenAI shape, the model list), or the worker's answer relayed (its head without hop-by-hop
 * headers, its parts as they come, a stream flushed event by event), and the error event that ends
 * a stream the worker broke off. It knows whether the connection is kept after the answer, and the
 * status the client got. Used on the connection's event loop only.
 */
final class AnswerWriter {
  /** Hop-by-hop headers, and ones this proxy sets itself; never relayed. */
  private static final Set<String> NOT_RELAYED = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);

  static {
    NOT_RELAYED.addAll(
        Set.of(
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            InferenceProxy.REQUEST_ID));
  }

  private final ChannelHandlerContext ctx;
  private final String requestId;
  private final boolean keepAlive;
  private boolean closeAfter;
  private int status;
  private boolean eventStream;

  /** The worker's answer has a Content-Length (relayed as is): nothing may be added to it. */
  private boolean lengthKnown;

  /**
   * @param keepAlive whether the client asked to keep the connection (HTTP/1.1 only: HTTP/1.0 has
   *     no chunked encoding, so its answers end with the connection)
   */
  AnswerWriter(ChannelHandlerContext ctx, String requestId, boolean keepAlive) {
    this.ctx = ctx;
    this.requestId = requestId;
    this.keepAlive = keepAlive;
  }

  /** The connection is closed after this answer. */
  void closeAfter() {
    closeAfter = true;
  }

  boolean closesAfter() {
    return closeAfter;
  }

  /** The status the client got (or is getting); 0 before any. */
  int status() {
    return status;
  }

  /** Records a status that the answer written so far does not show (a stream cut short). */
  void status(int status) {
    this.status = status;
  }

  /** {@code 100 Continue}: the client may send its body. */
  void proceed() {
    ctx.writeAndFlush(
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
  }

  /** An error answer in the OpenAI shape, with {@code Retry-After} when it is worth a retry. */
  ChannelFuture error(InferenceException e) {
    var response =
        json(
            HttpResponseStatus.valueOf(e.status().value()),
            ErrorBodies.openAi(e.status(), e.getMessage()));
    HttpHeaders headers = response.headers();
    String retryAfter = e.retryAfter();
    if (retryAfter != null) {
      headers.set(HttpHeaderNames.RETRY_AFTER, retryAfter);
    }
    if (e.status() == HttpStatus.UNAUTHORIZED) {
      headers.set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
    }
    return write(response);
  }

  /** A JSON answer of the gateway's own. */
  ChannelFuture ok(String json) {
    return write(json(HttpResponseStatus.OK, json));
  }

  private static FullHttpResponse json(HttpResponseStatus status, String json) {
    var response =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            status,
            Unpooled.wrappedBuffer(json.getBytes(StandardCharsets.UTF_8)));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    return response;
  }

  private ChannelFuture write(FullHttpResponse response) {
    status = response.status().code();
    HttpHeaders headers = response.headers();
    headers.set(InferenceProxy.REQUEST_ID, requestId);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
    if (closeAfter || !keepAlive) {
      closeAfter = true;
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    return ctx.writeAndFlush(response);
  }

  /** The worker's answer head, relayed without hop-by-hop headers (not flushed yet). */
  void head(HttpResponse head) {
    var out = new DefaultHttpResponse(HttpVersion.HTTP_1_1, head.status());
    HttpHeaders headers = out.headers();
    for (Map.Entry<String, String> entry : head.headers()) {
      if (!NOT_RELAYED.contains(entry.getKey())) {
        headers.add(entry.getKey(), entry.getValue());
      }
    }
    headers.set(InferenceProxy.REQUEST_ID, requestId);
    String type = head.headers().get(HttpHeaderNames.CONTENT_TYPE);
    eventStream = type != null && type.startsWith("text/event-stream");
    lengthKnown = HttpUtil.isContentLengthSet(out);
    if (!keepAlive) {
      closeAfter = true;
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (!lengthKnown) {
      HttpUtil.setTransferEncodingChunked(out, true);
    }
    status = head.status().code();
    ctx.write(out);
  }

  /**
   * A part of the worker's answer (not flushed: {@link #flush} does, once per read).
   *
   * @return whether the client's connection can take more now; when not, the caller stops reading
   *     from the worker first and then flushes (a flush that drains the buffer says "writable" at
   *     once, which must find the reading stopped)
   */
  boolean part(HttpContent content) {
    ctx.write(content);
    return ctx.channel().isWritable();
  }

  /** The last part of the worker's answer, flushed with what came before it. */
  ChannelFuture last(HttpContent content) {
    return ctx.writeAndFlush(content);
  }

  void flush() {
    ctx.flush();
  }

  /** Whether a broken-off answer can still end with an error event (a chunked stream). */
  boolean canEndWithErrorEvent() {
    return eventStream && !lengthKnown;
  }

  /**
   * Ends a stream the worker broke off with an OpenAI-style error event, then the stream's proper
   * end: the OpenAI SDKs raise an APIError on a data object with an {@code error} key, where a
   * stream that just stops would look like a short answer.
   */
  ChannelFuture errorEvent(Throwable cause) {
    boolean timedOut = cause instanceof ReadTimeoutException;
    HttpStatus outcome = timedOut ? HttpStatus.GATEWAY_TIMEOUT : HttpStatus.BAD_GATEWAY;
    String message =
        timedOut
            ? "The worker stopped responding mid-stream, please retry"
            : "The worker failed mid-stream, please retry";
    status = outcome.value();
    byte[] event =
        ("data: " + ErrorBodies.openAi(outcome, message) + "\n\n").getBytes(StandardCharsets.UTF_8);
    ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(event)));
    return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
  }
}
