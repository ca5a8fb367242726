package dev.gantry.bench;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Splits a server-sent-event byte stream into events. An event ends at a blank line ({@code
 * "\n\n"}, {@code "\r\n\r\n"} or a mix); bytes may arrive cut anywhere, including inside the
 * separator. Each complete event is handed over as its text without the trailing blank line.
 */
final class SseParser {

  private final Consumer<String> onEvent;
  private final ByteArrayOutputStream current = new ByteArrayOutputStream(512);

  /** Whether the previous byte ended a line (so one more line feed ends the event). */
  private boolean afterNewline;

  SseParser(Consumer<String> onEvent) {
    this.onEvent = onEvent;
  }

  /** Feeds the readable bytes of {@code buffer}, consuming them. */
  void feed(ByteBuffer buffer) {
    while (buffer.hasRemaining()) {
      byte b = buffer.get();
      if (b == '\n') {
        if (afterNewline) {
          emit();
        } else {
          current.write(b);
          afterNewline = true;
        }
      } else if (b == '\r') {
        // ignored: "\r\n" is a line end like "\n"
      } else {
        current.write(b);
        afterNewline = false;
      }
    }
  }

  /** Whether bytes of an unfinished event are buffered. */
  boolean hasPartialEvent() {
    return current.size() > 0;
  }

  private void emit() {
    byte[] bytes = current.toByteArray();
    int end = bytes.length;
    if (end > 0 && bytes[end - 1] == '\n') {
      end--;
    }
    current.reset();
    afterNewline = false;
    if (end > 0) {
      onEvent.accept(new String(bytes, 0, end, StandardCharsets.UTF_8));
    }
  }
}
