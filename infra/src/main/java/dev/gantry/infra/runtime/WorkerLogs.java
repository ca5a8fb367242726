package dev.gantry.infra.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines' log files, {@code <data dir>/logs/workers/<worker id>.log}: the engine writes them
 * itself (stdout and stderr, in append mode), the platform only adds a header line per start, reads
 * their ends and rotates them. Worker ids are validated by the caller.
 */
final class WorkerLogs {
  private static final Logger log = LoggerFactory.getLogger(WorkerLogs.class);

  private static final int HEADER_ARG_CHARS = 256;
  private static final int EXCERPT_LINES = 20;
  private static final int EXCERPT_CHARS = 2048;
  private static final int EXCERPT_LINE_CHARS = 512;
  private static final int EXCERPT_READ_BYTES = 64 * 1024;

  private final Path dir;
  private final long maxBytes;

  WorkerLogs(Path dir, long maxBytes) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  Path fileOf(String workerId) {
    return dir.resolve(workerId + ".log");
  }

  /** Deletes every log (and rotated log) of the deployment's workers. */
  void removeDeployment(String deploymentId) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    String prefix = deploymentId + "-w";
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.getFileName().toString().startsWith(prefix)).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  private static Path rotated(Path file) {
    return file.resolveSibling(file.getFileName() + ".1");
  }

  /**
   * Adds the line each start begins with: when, which command, which variable names. Values are
   * never written, as the env holds secrets; very long arguments (a class path) are shortened.
   */
  void appendHeader(WorkerLaunchRequest request, EngineLaunchSpec spec) throws IOException {
    String argv =
        spec.command().stream()
            .map(
                a ->
                    a.length() > HEADER_ARG_CHARS
                        ? a.substring(0, HEADER_ARG_CHARS) + "…(" + a.length() + " chars)"
                        : a)
            .collect(Collectors.joining(" "));
    Set<String> names = new TreeSet<>(request.env().keySet());
    names.addAll(spec.env().keySet());
    String header =
        "[gantry] %s starting %s engine for worker %s: %s; env: %s%n"
            .formatted(
                Instant.now(), request.framework().wireName(), request.workerId(), argv, names);
    Files.createDirectories(dir);
    Files.writeString(
        fileOf(request.workerId()), header, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  /**
   * The last {@code count} lines of the log, continuing into the rotated file when the current one
   * was truncated moments ago. Reads at most {@code readBytes} of each file, so a huge log costs
   * bounded memory.
   */
  List<String> tail(String workerId, int count, int readBytes) throws IOException {
    return tail(workerId, count, readBytes, Long.MAX_VALUE);
  }

  /**
   * Like {@link #tail(String, int, int)}, but of the log's first {@code end} bytes only: a follow
   * reads the tail up to where it then goes on reading, so no line is lost or shown twice.
   */
  List<String> tail(String workerId, int count, int readBytes, long end) throws IOException {
    Path file = fileOf(workerId);
    List<String> lines = lastLines(file, count, readBytes, end);
    if (lines.size() < count) {
      List<String> joined =
          new ArrayList<>(
              lastLines(rotated(file), count - lines.size(), readBytes, Long.MAX_VALUE));
      joined.addAll(lines);
      lines = joined;
    }
    return lines.stream().map(WorkerLogs::redact).toList();
  }

  /** Masks what looks like a credential; see {@link LogRedaction#byPattern}. */
  static String redact(String line) {
    return LogRedaction.byPattern(line);
  }

  /**
   * The end of the log for an exit reason: the last non-blank lines, stripped, each and all bounded
   * so the reason fits a workflow failure and a line in a UI. Empty when the log is.
   */
  String excerpt(String workerId) throws IOException {
    List<String> lines = new ArrayList<>();
    for (String line : tail(workerId, EXCERPT_LINES, EXCERPT_READ_BYTES)) {
      String stripped = line.strip();
      if (!stripped.isEmpty()) {
        lines.add(
            stripped.length() > EXCERPT_LINE_CHARS
                ? stripped.substring(0, EXCERPT_LINE_CHARS) + "…"
                : stripped);
      }
    }
    List<String> kept = new ArrayList<>();
    int chars = 0;
    for (int i = lines.size() - 1; i >= 0; i--) {
      chars += lines.get(i).length() + 1;
      if (chars > EXCERPT_CHARS) {
        break;
      }
      kept.addFirst(lines.get(i));
    }
    return String.join("\n", kept);
  }

  /**
   * Keeps the workers' logs under the size limit by copy-truncate: a log past it is copied to
   * {@code <log>.1} (replacing the previous one) and truncated in place. The engine keeps its file
   * descriptor, and because it writes in append mode its next line lands at the new end instead of
   * leaving a hole. Lines written between the copy and the truncation are lost: the known price of
   * rotating a file another process holds open.
   */
  void rotate(Collection<String> workerIds) {
    for (String workerId : workerIds) {
      Path file = fileOf(workerId);
      try {
        if (!Files.exists(file) || Files.size(file) <= maxBytes) {
          continue;
        }
        Files.copy(file, rotated(file), StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
          channel.truncate(0);
        }
        log.debug("rotated the log of worker {}", workerId);
      } catch (IOException e) {
        log.warn("cannot rotate the log of worker {}: {}", workerId, e.toString());
      }
    }
  }

  private static List<String> lastLines(Path file, int count, int readBytes, long end)
      throws IOException {
    if (count <= 0) {
      return List.of();
    }
    byte[] bytes;
    boolean cut;
    try (SeekableByteChannel channel = Files.newByteChannel(file, StandardOpenOption.READ)) {
      long size = Math.min(channel.size(), end);
      int length = (int) Math.min(size, readBytes);
      cut = length < size;
      ByteBuffer buffer = ByteBuffer.allocate(length);
      channel.position(size - length);
      while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
        // fill the buffer; a concurrent truncation ends the read early
      }
      bytes = Arrays.copyOf(buffer.array(), buffer.position());
    } catch (NoSuchFileException e) {
      return List.of();
    }
    if (bytes.length == 0) {
      return List.of();
    }
    List<String> lines =
        new ArrayList<>(Arrays.asList(new String(bytes, StandardCharsets.UTF_8).split("\r?\n")));
    if (cut && !lines.isEmpty()) {
      lines.removeFirst(); // the read began mid-line
    }
    return List.copyOf(lines.subList(Math.max(0, lines.size() - count), lines.size()));
  }
}
