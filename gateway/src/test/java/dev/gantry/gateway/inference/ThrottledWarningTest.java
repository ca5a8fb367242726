package dev.gantry.gateway.inference;

import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

class ThrottledWarningTest {
  private Instant now = Instant.parse("2026-12-06T10:00:00Z");

  private final Clock clock =
      new Clock() {
        @Override
        public ZoneOffset getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return now;
        }
      };

  @Test
  void aRepeatedFailureIsLoggedOnceEveryThirtySeconds() {
    Logger log = mock(Logger.class);
    var warning = new ThrottledWarning(log, clock);

    warning.warn("down: {}", "first");
    now = now.plus(Duration.ofSeconds(29));
    warning.warn("down: {}", "second");
    verify(log, times(1)).warn("down: {}", new Object[] {"first"});
    verify(log, times(0)).warn("down: {}", new Object[] {"second"});

    now = now.plus(Duration.ofSeconds(2));
    warning.warn("down: {}", "third");
    verify(log, times(1)).warn("down: {}", new Object[] {"third"});
  }
}
