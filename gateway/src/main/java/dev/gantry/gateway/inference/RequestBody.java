package dev.gantry.gateway.inference;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A request's body while the gateway holds it: read into one buffer under the size limit, counted
 * against the body budget from its first byte until it is let go ({@link #drop}), and watched for a
 * client that stops sending it. Used on the connection's event loop only.
 */
final class RequestBody {
  private final BodyBudget.Hold hold;
  private final EventExecutor loop;
  private final LongSupplier nanoTime;
  private final long silenceNanos;
  private final Runnable onSilence;
  private BodyBuffer buffer;
  private byte[] bytes;
  private long lastHeardNanos;
  private ScheduledFuture<?> watch;

  /**
   * @param onSilence run when the client sent nothing of the body for {@code silenceNanos}
   */
  RequestBody(
      BodyBudget.Hold hold,
      BodyBuffer buffer,
      EventExecutor loop,
      LongSupplier nanoTime,
      long silenceNanos,
      Runnable onSilence) {
    this.hold = hold;
    this.buffer = buffer;
    this.loop = loop;
    this.nanoTime = nanoTime;
    this.silenceNanos = silenceNanos;
    this.onSilence = onSilence;
    this.lastHeardNanos = nanoTime.getAsLong();
    watch(silenceNanos);
  }

  /** The client sent something (a part, even a malformed one). */
  void heard() {
    lastHeardNanos = nanoTime.getAsLong();
  }

  /**
   * @throws InferenceException past the size limit (413) or the body budget (429)
   */
  void append(ByteBuf part) {
    buffer.append(part);
  }

  /** The body as received (once complete), or as it will be sent; null once let go. */
  byte[] bytes() {
    return bytes;
  }

  /** The whole body is in: stops watching, and returns it. */
  byte[] complete() {
    stopWatching();
    bytes = buffer.bytes();
    buffer = null;
    return bytes;
  }

  /** The body as sent (an output cap may have been added): kept in place of the one received. */
  byte[] sending(byte[] sent) {
    if (bytes != null && sent != bytes) {
      hold.reserve(sent.length - (long) bytes.length);
    }
    bytes = sent;
    return sent;
  }

  /**
   * Counts the request as at least {@code bytes} against the body budget while it is held: what a
   * request waiting for a worker costs besides its body (its connection, its state), so the budget
   * also bounds how many small requests can wait.
   *
   * @return false when the budget has no room for it
   */
  boolean countAtLeast(long bytes) {
    long more = bytes - hold.held();
    return more <= 0 || hold.reserve(more);
  }

  /** Lets go of the body and its share of the budget; idempotent. */
  void drop() {
    stopWatching();
    buffer = null;
    bytes = null;
    hold.releaseAll();
  }

  private void check() {
    watch = null;
    if (buffer == null) {
      return;
    }
    long quiet = nanoTime.getAsLong() - lastHeardNanos;
    if (quiet < silenceNanos) {
      watch(silenceNanos - quiet);
      return;
    }
    onSilence.run();
  }

  private void watch(long delayNanos) {
    watch = loop.schedule(this::check, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void stopWatching() {
    if (watch != null) {
      watch.cancel(false);
      watch = null;
    }
  }
}
