package dev.gantry.infra.runtime;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Masks credentials in engine log lines: by shape ({@code hf_...}, {@code gk_...}, a bearer token,
 * {@code token=...}), and by value (the deployment's own env values, which no pattern knows).
 */
public final class LogRedaction {
  /** Values shorter than this are not masked: they would mask ordinary words and digits. */
  public static final int MIN_VALUE_LENGTH = 4;

  private static final String MASK = "***";

  private static final Pattern SECRET_ASSIGNMENT =
      Pattern.compile(
          "(?i)\\b([a-z0-9_.-]*(?:token|key|secret|password|passwd)[a-z0-9_.-]*)(\\s*[=:]\\s*)\"?[^\\s\",]+");
  private static final Pattern SECRET_SHAPES =
      Pattern.compile("(?i)\\b(hf_|sk-|gk_)[a-z0-9_-]{8,}|\\bbearer\\s+[^\\s\"]+");

  private final List<String> values;

  private LogRedaction(List<String> values) {
    this.values = values;
  }

  /**
   * Masks by pattern and each of {@code secretValues} at least {@link #MIN_VALUE_LENGTH} long;
   * longer values first, so a value that contains another is masked whole.
   */
  public static LogRedaction withValues(Collection<String> secretValues) {
    return new LogRedaction(
        secretValues.stream()
            .filter(v -> v != null && v.length() >= MIN_VALUE_LENGTH)
            .distinct()
            .sorted(Comparator.comparingInt(String::length).reversed())
            .toList());
  }

  public String mask(String line) {
    String masked = line;
    // Values first: a pattern could mask part of a value and leave the rest of it readable.
    for (String value : values) {
      masked = masked.replace(value, MASK);
    }
    return byPattern(masked);
  }

  /**
   * Masks what looks like a credential. Log lines leave the host in failure reasons (the API, the
   * workflow history), and an engine may print its env or a URL with a token in it.
   */
  public static String byPattern(String line) {
    String masked = SECRET_ASSIGNMENT.matcher(line).replaceAll("$1$2" + MASK);
    return SECRET_SHAPES.matcher(masked).replaceAll(MASK);
  }
}
