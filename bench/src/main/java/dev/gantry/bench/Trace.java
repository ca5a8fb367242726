package dev.gantry.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * A request trace: when each request arrived and how many prompt and generated tokens it had. Two
 * formats are read, told apart by their first line:
 *
 * <ul>
 *   <li>the Azure LLM inference trace CSV ({@code TIMESTAMP,ContextTokens,GeneratedTokens}, the
 *       timestamp like {@code 2023-11-16 18:17:03.9799600}, optionally with a UTC offset);
 *   <li>Mooncake JSONL ({@code {"timestamp": ms, "input_length": n, "output_length": n, ...}} per
 *       line; {@code hash_ids} are ignored).
 * </ul>
 *
 * <p>Offsets count from the trace's earliest request, so minute 0 starts with the first request.
 * Requests are kept sorted by offset (stable, so rows with the same time keep their file order).
 *
 * @param name where the trace came from (for the output)
 * @param format the format it was read in
 * @param requests the requests, by offset
 */
record Trace(String name, Format format, List<Trace.Request> requests) {

  /** The trace file formats. */
  enum Format {
    AZURE_CSV,
    MOONCAKE_JSONL
  }

  /**
   * One request of a trace.
   *
   * @param offsetMicros arrival time since the start of the trace (or of its slice)
   * @param promptTokens tokens of the prompt (context)
   * @param outputTokens tokens generated
   */
  record Request(long offsetMicros, int promptTokens, int outputTokens) {}

  /**
   * A request placed on the replay's (compressed) timeline.
   *
   * @param index position in the slice, from 0
   * @param sendAtNanos when to send it, from the start of the replay
   * @param request the trace's request
   */
  record Scheduled(int index, long sendAtNanos, Request request) {}

  Trace {
    requests = List.copyOf(requests);
  }

  static Trace read(Path file) throws IOException {
    return parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
  }

  /**
   * Parses the lines of a trace file.
   *
   * @throws IllegalArgumentException naming the line when one cannot be read
   */
  static Trace parse(String name, List<String> lines) {
    String first = lines.stream().filter(l -> !l.isBlank()).findFirst().orElse("").strip();
    if (first.isEmpty()) {
      throw new IllegalArgumentException(name + ": the trace is empty");
    }
    Format format = first.startsWith("{") ? Format.MOONCAKE_JSONL : Format.AZURE_CSV;
    List<Request> absolute = new ArrayList<>();
    long origin = Long.MAX_VALUE;
    boolean headerSeen = false;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty()) {
        continue;
      }
      Request request;
      try {
        if (format == Format.AZURE_CSV) {
          if (!headerSeen) {
            headerSeen = true;
            if (!Character.isDigit(line.charAt(0))) {
              checkAzureHeader(line);
              continue;
            }
          }
          request = azureRow(line);
        } else {
          request = mooncakeLine(line);
        }
      } catch (IllegalArgumentException | DateTimeParseException e) {
        throw new IllegalArgumentException(
            name + " line " + (i + 1) + ": " + e.getMessage() + ": " + Json.abbreviate(line), e);
      }
      absolute.add(request);
      origin = Math.min(origin, request.offsetMicros());
    }
    if (absolute.isEmpty()) {
      throw new IllegalArgumentException(name + ": the trace has no requests");
    }
    long zero = origin;
    List<Request> relative = new ArrayList<>(absolute.size());
    for (Request r : absolute) {
      relative.add(new Request(r.offsetMicros() - zero, r.promptTokens(), r.outputTokens()));
    }
    relative.sort(Comparator.comparingLong(Request::offsetMicros));
    return new Trace(name, format, relative);
  }

  /**
   * The requests from minute {@code fromMinute} (inclusive) for {@code minutes} minutes, with
   * offsets counted from the start of the slice (not from its first request, so a quiet start stays
   * quiet). {@code minutes} may be infinite: to the end.
   */
  Trace slice(double fromMinute, double minutes) {
    if (!(fromMinute >= 0) || !(minutes > 0)) {
      throw new IllegalArgumentException("the slice needs a start >= 0 and a length > 0 minutes");
    }
    long from = Math.round(fromMinute * 60e6);
    long length = Math.round(minutes * 60e6); // at most Long.MAX_VALUE, also for infinity
    long until = length > Long.MAX_VALUE - from ? Long.MAX_VALUE : from + length;
    List<Request> kept = new ArrayList<>();
    for (Request r : requests) {
      if (r.offsetMicros() >= from && r.offsetMicros() < until) {
        kept.add(new Request(r.offsetMicros() - from, r.promptTokens(), r.outputTokens()));
      }
    }
    return new Trace(name, format, kept);
  }

  /** Minutes from the first request to the last. */
  double spanMinutes() {
    return requests.isEmpty() ? 0 : requests.getLast().offsetMicros() / 60e6;
  }

  /** The requests on a timeline compressed {@code speed} times (2 = twice as fast). */
  List<Scheduled> schedule(double speed) {
    if (!(speed > 0) || Double.isInfinite(speed)) {
      throw new IllegalArgumentException("speed must be a finite number > 0, got " + speed);
    }
    List<Scheduled> scheduled = new ArrayList<>(requests.size());
    for (int i = 0; i < requests.size(); i++) {
      Request r = requests.get(i);
      scheduled.add(new Scheduled(i, Math.round(r.offsetMicros() * 1000 / speed), r));
    }
    return scheduled;
  }

  private static void checkAzureHeader(String line) {
    String[] names = line.split(",");
    if (names.length < 3
        || !names[0].strip().equalsIgnoreCase("TIMESTAMP")
        || !names[1].strip().equalsIgnoreCase("ContextTokens")
        || !names[2].strip().equalsIgnoreCase("GeneratedTokens")) {
      throw new IllegalArgumentException(
          "expected the header TIMESTAMP,ContextTokens,GeneratedTokens");
    }
  }

  private static Request azureRow(String line) {
    String[] fields = line.split(",");
    if (fields.length != 3) {
      throw new IllegalArgumentException("expected 3 comma-separated fields");
    }
    return new Request(
        epochMicros(fields[0].strip()),
        tokens("ContextTokens", fields[1].strip()),
        tokens("GeneratedTokens", fields[2].strip()));
  }

  /** Microseconds of a timestamp; without an offset it is taken as UTC. */
  private static long epochMicros(String timestamp) {
    String iso = timestamp.replace(' ', 'T');
    Duration sinceEpoch;
    if (iso.endsWith("Z") || iso.matches(".*[+-]\\d\\d:?\\d\\d$")) {
      OffsetDateTime t = OffsetDateTime.parse(iso.replaceFirst("([+-]\\d\\d)(\\d\\d)$", "$1:$2"));
      sinceEpoch = Duration.between(OffsetDateTime.parse("1970-01-01T00:00Z"), t);
    } else {
      sinceEpoch = Duration.between(LocalDateTime.of(1970, 1, 1, 0, 0), LocalDateTime.parse(iso));
    }
    return sinceEpoch.toNanos() / 1000;
  }

  private static Request mooncakeLine(String line) {
    Map<String, Object> object = Json.parseObject(line);
    double timestampMs = number(object, "timestamp");
    return new Request(
        Math.round(timestampMs * 1000),
        tokens("input_length", number(object, "input_length")),
        tokens("output_length", number(object, "output_length")));
  }

  private static double number(Map<String, Object> object, String field) {
    if (object.get(field) instanceof Double d && Double.isFinite(d)) {
      return d;
    }
    throw new IllegalArgumentException("missing or non-numeric \"" + field + "\"");
  }

  private static int tokens(String field, String text) {
    try {
      return tokens(field, Double.parseDouble(text));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(field + " is not a number");
    }
  }

  private static int tokens(String field, double value) {
    if (!(value >= 0) || value > Integer.MAX_VALUE || value != Math.rint(value)) {
      throw new IllegalArgumentException(field + " must be a whole number >= 0");
    }
    return (int) value;
  }
}
