package dev.gantry.infra.runtime;

import dev.gantry.infra.config.GantryProperties;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** Binds {@link GantryProperties} the way the application does, defaults included. */
final class TestProperties {
  private TestProperties() {}

  /**
   * @param settings property names under {@code gantry.} (e.g. {@code runtime.local.gpus[0].type})
   */
  static GantryProperties bind(Path dataDir, Map<String, String> settings) {
    Map<String, String> all = new LinkedHashMap<>();
    all.put("gantry.data-dir", dataDir.toString());
    settings.forEach((key, value) -> all.put("gantry." + key, value));
    return new Binder(new MapConfigurationPropertySource(all))
        .bind("gantry", GantryProperties.class)
        .get();
  }
}
