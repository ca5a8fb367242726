package dev.gantry.infra.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Splits a byte stream of log output into lines of at most {@link LogFollow#MAX_LINE_BYTES} bytes
 * (the rest of a longer line is dropped), so a line without end costs bounded memory.
 */
public final class LogLines {
  private LogLines() {}

  /**
   * Reads {@code in} to its end and hands each line, masked by pattern, to {@code sink}; a last
   * line without a newline too. Stops early, without handing on what it holds, once {@code stop}
   * says so.
   */
  public static void split(InputStream in, Consumer<String> sink, BooleanSupplier stop)
      throws IOException {
    var line = new ByteArrayOutputStream();
    boolean cut = false;
    byte[] buffer = new byte[8192];
    int n;
    while ((n = in.read(buffer)) >= 0) {
      for (int i = 0; i < n; i++) {
        if (stop.getAsBoolean()) {
          return;
        }
        byte b = buffer[i];
        if (b == '\n') {
          sink.accept(text(line));
          cut = false;
        } else if (line.size() < LogFollow.MAX_LINE_BYTES) {
          line.write(b);
        } else {
          cut = true;
        }
      }
    }
    if ((line.size() > 0 || cut) && !stop.getAsBoolean()) {
      sink.accept(text(line));
    }
  }

  private static String text(ByteArrayOutputStream line) {
    String text = line.toString(StandardCharsets.UTF_8);
    line.reset();
    if (text.endsWith("\r")) {
      text = text.substring(0, text.length() - 1);
    }
    return LogRedaction.byPattern(text);
  }
}
