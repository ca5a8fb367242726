package dev.gantry.infra.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows a local engine log file by polling its size: new bytes are read from where the last read
 * stopped, a file that shrank was rotated (copy-truncate) and is read again from its start, and the
 * follow ends once the engine is gone and its last bytes were read. The file is opened per read
 * only, so an idle follow holds no file handle, and one virtual thread per follow does the reading.
 */
final class LogFollower implements LogFollow {
  private static final Logger log = LoggerFactory.getLogger(LogFollower.class);

  private static final int READ_BYTES = 64 * 1024;

  private final Path file;
  private final List<String> tail;
  private final BooleanSupplier running;
  private final Listener listener;
  private final Duration pollInterval;
  private final AtomicInteger active;
  private volatile boolean closed;
  private volatile long position;
  private Thread thread;

  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  private boolean cutting;

  private LogFollower(
      Path file,
      List<String> tail,
      long position,
      BooleanSupplier running,
      Listener listener,
      Duration pollInterval,
      AtomicInteger active) {
    this.file = file;
    this.tail = tail;
    this.position = position;
    this.running = running;
    this.listener = listener;
    this.pollInterval = pollInterval;
    this.active = active;
  }

  /**
   * Starts following {@code file} from byte {@code position}, after delivering {@code tail} (the
   * lines before it). {@code running} tells whether the engine still writes; {@code active} counts
   * the follows whose thread is alive.
   */
  static LogFollower start(
      Path file,
      List<String> tail,
      long position,
      BooleanSupplier running,
      Listener listener,
      Duration pollInterval,
      AtomicInteger active) {
    var follower = new LogFollower(file, tail, position, running, listener, pollInterval, active);
    active.incrementAndGet();
    follower.thread =
        Thread.ofVirtual().name("gantry-log-follow-" + file.getFileName()).start(follower::run);
    return follower;
  }

  /** The size of the file, 0 when it does not exist (yet, or any more). */
  static long sizeOf(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0;
    }
  }

  private void run() {
    try {
      for (String line : tail) {
        if (closed) {
          return;
        }
        listener.line(cut(line));
      }
      while (!closed) {
        // Asked before reading: an engine that is gone wrote its last bytes before this read.
        boolean alive = running.getAsBoolean();
        if (readNew()) {
          continue;
        }
        if (!alive) {
          flushPartial();
          if (!closed) {
            listener.end();
          }
          return;
        }
        Thread.sleep(pollInterval);
      }
    } catch (InterruptedException e) {
      // closed
    } catch (RuntimeException e) {
      log.warn("the log follow of {} ended: {}", file.getFileName(), e.toString());
    } finally {
      active.decrementAndGet();
    }
  }

  /** Reads and delivers what was appended since the last read; false when there was nothing. */
  private boolean readNew() {
    long size = sizeOf(file);
    if (size < position) {
      position = 0; // rotated: the engine goes on writing at the start of the truncated file
    }
    if (size == position) {
      return false;
    }
    ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(READ_BYTES, size - position));
    try (SeekableByteChannel channel = Files.newByteChannel(file, StandardOpenOption.READ)) {
      channel.position(position);
      int n = channel.read(buffer);
      if (n <= 0) {
        return false;
      }
      position += n;
    } catch (NoSuchFileException e) {
      return false;
    } catch (IOException e) {
      log.debug("cannot read {}: {}", file, e.toString());
      return false;
    }
    byte[] bytes = buffer.array();
    for (int i = 0; i < buffer.position() && !closed; i++) {
      byte b = bytes[i];
      if (b == '\n') {
        flushPartial();
        cutting = false;
      } else if (partial.size() < MAX_LINE_BYTES) {
        partial.write(b);
      } else {
        cutting = true;
      }
    }
    return true;
  }

  private void flushPartial() {
    if (partial.size() == 0 && !cutting) {
      return;
    }
    String line = partial.toString(StandardCharsets.UTF_8);
    partial.reset();
    if (line.endsWith("\r")) {
      line = line.substring(0, line.length() - 1);
    }
    if (!closed) {
      listener.line(WorkerLogs.redact(line));
    }
  }

  /** A line cut to {@link #MAX_LINE_BYTES} bytes of UTF-8. */
  static String cut(String line) {
    byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
    return bytes.length <= MAX_LINE_BYTES
        ? line
        : new String(bytes, 0, MAX_LINE_BYTES, StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
    }
  }
}
