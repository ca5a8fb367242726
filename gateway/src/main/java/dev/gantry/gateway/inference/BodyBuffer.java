package dev.gantry.gateway.inference;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.function.LongFunction;

/**
 * A body read into one array, refused as soon as it passes the size limit: a request's body, or a
 * worker's whole answer to an async job. With a budget hold, the array's whole capacity is counted
 * against the body budget before it is allocated, and a body the budget cannot take is refused
 * (429) before it is buffered.
 */
final class BodyBuffer {
  private final long limit;
  private final LongFunction<InferenceException> tooLarge;
  private final BodyBudget.Hold hold;
  private byte[] bytes;
  private int length;

  BodyBuffer(long declared, long limit, LongFunction<InferenceException> tooLarge) {
    this(declared, limit, tooLarge, null);
  }

  /**
   * @throws InferenceException 429 when the hold cannot take the declared length
   */
  BodyBuffer(
      long declared, long limit, LongFunction<InferenceException> tooLarge, BodyBudget.Hold hold) {
    this.limit = limit;
    this.tooLarge = tooLarge;
    this.hold = hold;
    int capacity = declared > 0 ? (int) Math.min(declared, limit) : 256;
    take(capacity);
    this.bytes = new byte[capacity];
  }

  private void take(long n) {
    if (hold != null && !hold.reserve(n)) {
      throw InferenceException.queueFull();
    }
  }

  void append(ByteBuf buf) {
    int n = buf.readableBytes();
    if (length + (long) n > limit) {
      throw tooLarge.apply(limit);
    }
    if (length + n > bytes.length) {
      int capacity = (int) Math.min(limit, Math.max(length + n, 2L * bytes.length));
      take(capacity - bytes.length);
      bytes = Arrays.copyOf(bytes, capacity);
    }
    buf.getBytes(buf.readerIndex(), bytes, length, n);
    length += n;
  }

  byte[] bytes() {
    if (length == bytes.length) {
      return bytes;
    }
    byte[] exact = Arrays.copyOf(bytes, length);
    if (hold != null) {
      hold.release(bytes.length - (long) length);
    }
    bytes = exact;
    return exact;
  }
}
