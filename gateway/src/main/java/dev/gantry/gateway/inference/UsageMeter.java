package dev.gantry.gateway.inference;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Reads token counts off a response as it passes, without holding it: the engine's {@code usage}
 * object (at the end of a completion, or in the last chunk of a stream that asked for usage) is
 * found in a small tail window; for a stream without usage, completion tokens are counted as its
 * content chunks (engines send one token per chunk).
 */
final class UsageMeter {
  private static final int TAIL = 1024;
  private final byte[] tail = new byte[TAIL];
  private int tailLength;
  private int events;
  private boolean lastWasNewline;

  /** Called on the event loop for every chunk; reads without consuming. */
  void observe(ByteBuf buf, boolean eventStream) {
    int from = buf.readerIndex();
    int length = buf.readableBytes();
    if (eventStream) {
      // An event ends with a blank line; the two newlines may arrive in different chunks.
      for (int i = 0; i < length; i++) {
        boolean newline = buf.getByte(from + i) == '\n';
        if (newline && lastWasNewline) {
          events++;
        }
        lastWasNewline = newline;
      }
    }
    if (length >= TAIL) {
      buf.getBytes(from + length - TAIL, tail, 0, TAIL);
      tailLength = TAIL;
    } else {
      int keep = Math.min(tailLength, TAIL - length);
      System.arraycopy(tail, tailLength - keep, tail, 0, keep);
      buf.getBytes(from, tail, keep, length);
      tailLength = keep + length;
    }
  }

  int promptTokens() {
    return number("\"prompt_tokens\":");
  }

  int completionTokens(boolean eventStream) {
    int reported = number("\"completion_tokens\":");
    if (reported >= 0 || !eventStream) {
      return Math.max(0, reported);
    }
    // Without usage: the role chunk, the finish chunk and [DONE] carry no token.
    return Math.max(0, events - 3);
  }

  private int number(String key) {
    String text = new String(tail, 0, tailLength, StandardCharsets.ISO_8859_1);
    int at = text.lastIndexOf(key);
    if (at < 0) {
      return key.startsWith("\"prompt") ? 0 : -1;
    }
    int i = at + key.length();
    while (i < text.length() && text.charAt(i) == ' ') {
      i++;
    }
    long value = 0;
    int digits = 0;
    while (i < text.length() && Character.isDigit(text.charAt(i)) && digits < 10) {
      value = value * 10 + (text.charAt(i++) - '0');
      digits++;
    }
    return digits == 0
        ? (key.startsWith("\"prompt") ? 0 : -1)
        : (int) Math.min(Integer.MAX_VALUE, value);
  }
}
