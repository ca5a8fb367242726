package dev.gantry.kubernetes;

import dev.gantry.infra.config.GantryProperties;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** Settings bound the way the application binds them, and a clock the tests move. */
final class TestSettings {
  static final String NAMESPACE = "gantry-test";

  private TestSettings() {}

  /**
   * @param settings property names under {@code gantry.}
   */
  static GantryProperties bind(Map<String, String> settings) {
    Map<String, String> all = new LinkedHashMap<>();
    all.put("gantry.data-dir", Path.of(System.getProperty("java.io.tmpdir")).toString());
    all.put("gantry.runtime.type", "kubernetes");
    all.put("gantry.runtime.kubernetes.namespace", NAMESPACE);
    settings.forEach((key, value) -> all.put("gantry." + key, value));
    return new Binder(new MapConfigurationPropertySource(all))
        .bind("gantry", GantryProperties.class)
        .get();
  }

  static GantryProperties defaults() {
    return bind(Map.of());
  }

  /** A clock that stands still until a test moves it. */
  static final class MovableClock extends Clock {
    private volatile Instant now = Instant.now();

    void advance(Duration by) {
      now = now.plus(by);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
