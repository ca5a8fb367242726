package dev.gantry.gateway.inference;

import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/** The id a request is known by in logs, usage and the {@code X-Request-Id} response header. */
final class RequestIds {
  private static final Pattern CALLER_ID = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

  private RequestIds() {}

  /** The caller's own {@code X-Request-Id} when it is a sane token, else a new one. */
  static String of(String given) {
    if (given != null && CALLER_ID.matcher(given).matches()) {
      return given;
    }
    var random = ThreadLocalRandom.current();
    return "req_"
        + Long.toHexString(random.nextLong() | Long.MIN_VALUE)
        + Long.toHexString(random.nextLong() | Long.MIN_VALUE);
  }
}
