package dev.gantry.gateway.inference;

import java.time.Clock;
import org.slf4j.Logger;

/**
 * A warning logged at most once every 30 s, for failures that repeat at every tick while the
 * control plane or the database is away: one line says so, not thousands.
 */
final class ThrottledWarning {
  private static final long INTERVAL_MILLIS = 30_000;

  private final Logger log;
  private final Clock clock;
  private long lastMillis;

  ThrottledWarning(Logger log, Clock clock) {
    this.log = log;
    this.clock = clock;
  }

  synchronized void warn(String format, Object... arguments) {
    long now = clock.millis();
    if (now - lastMillis > INTERVAL_MILLIS) {
      lastMillis = now;
      log.warn(format, arguments);
    }
  }
}
