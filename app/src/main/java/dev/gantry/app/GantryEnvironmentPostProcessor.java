package dev.gantry.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Derives the embedded default from the few settings a user gives: a data dir under the home
 * directory ({@code /var/lib/gantry} for root, see {@link #defaultDataDir()}), the embedded
 * Temporal server unless {@code gantry.temporal.target} is set, a log file in the data dir, no
 * Temporal workers without the orchestrator role, and no OpenAPI document or dashboard without the
 * gateway role. (The embedded database is {@link EmbeddedDatabaseConfiguration}.) Explicit settings
 * always win.
 */
public class GantryEnvironmentPostProcessor implements EnvironmentPostProcessor {
  /** An empty static-resource location: a process without the gateway role serves no page. */
  static final String NO_STATIC_FILES = "classpath:/dev/gantry/app/no-static-files/";

  @Override
  public void postProcessEnvironment(ConfigurableEnvironment env, SpringApplication application) {
    // Placeholders, not computed values: settings added after this runs (tests' dynamic
    // properties, for one) must still flow into what is derived from them.
    Map<String, Object> derived = new HashMap<>();
    derived.put("gantry.data-dir", defaultDataDir().toString());
    derived.put(
        "spring.temporal.connection.target",
        "${gantry.temporal.target:127.0.0.1:${gantry.temporal.embedded-port:7233}}");
    derived.put("logging.file.name", "${gantry.data-dir}/logs/gantry.log");

    String roles = env.getProperty("gantry.roles", "gateway,orchestrator");
    if (!roles.toLowerCase(Locale.ROOT).contains("orchestrator")) {
      derived.put("spring.temporal.start-workers", "false");
    }
    if (!roles.toLowerCase(Locale.ROOT).contains("gateway")) {
      // The OpenAPI document and Swagger UI describe the gateway's API, which this process lacks.
      derived.put("springdoc.api-docs.enabled", "false");
      derived.put("springdoc.swagger-ui.enabled", "false");
      // Nor the dashboard, whose page only calls that API: no static files and no welcome page.
      derived.put("spring.web.resources.add-mappings", "false");
      derived.put("spring.web.resources.static-locations", NO_STATIC_FILES);
      // Nor has it the key filter that keeps the metrics to admins.
      derived.put("management.endpoints.web.exposure.include", "health,info");
    } else {
      derived.put("management.endpoints.web.exposure.include", "health,info,prometheus");
    }
    // Last in precedence, so any explicit setting wins over these defaults.
    env.getPropertySources().addLast(new MapPropertySource("gantryDerivedDefaults", derived));
  }

  /**
   * {@code ~/.gantry}, except for root: engines then run as unprivileged uids of their own, which
   * must traverse the data dir's parents to reach their storage, and root's home is closed to them.
   * {@code /var/lib/gantry} is where a system service keeps its state.
   */
  static Path defaultDataDir() {
    if (runsAsRoot()) {
      return Path.of("/var/lib/gantry");
    }
    return Path.of(System.getProperty("user.home"), ".gantry");
  }

  private static boolean runsAsRoot() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return false;
    }
  }
}
