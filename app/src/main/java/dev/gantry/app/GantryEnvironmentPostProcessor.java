package dev.gantry.app;

import dev.gantry.infra.db.EmbeddedDatabase;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Derives the embedded default from the few settings a user gives: with no datasource URL, an H2
 * database in the data dir; with no {@code gantry.temporal.target}, the embedded Temporal server;
 * without the orchestrator role, no Temporal workers. Explicit settings always win.
 */
public class GantryEnvironmentPostProcessor implements EnvironmentPostProcessor {

  @Override
  public void postProcessEnvironment(ConfigurableEnvironment env, SpringApplication application) {
    Map<String, Object> derived = new HashMap<>();
    String dataDir = env.getProperty("gantry.data-dir");
    if (dataDir == null || dataDir.isBlank()) {
      dataDir = Path.of(System.getProperty("user.home"), ".gantry").toString();
      derived.put("gantry.data-dir", dataDir);
    }
    Path data = Path.of(dataDir).toAbsolutePath().normalize();

    String url = env.getProperty("spring.datasource.url");
    if (url == null || url.isBlank()) {
      derived.put("spring.datasource.url", EmbeddedDatabase.fileUrl(data));
      derived.put("spring.datasource.username", "sa");
      derived.put("spring.datasource.password", "");
    }

    String target = env.getProperty("gantry.temporal.target");
    if (target == null || target.isBlank()) {
      String port = env.getProperty("gantry.temporal.embedded-port", "7233");
      derived.put("spring.temporal.connection.target", "127.0.0.1:" + port);
    } else {
      derived.put("spring.temporal.connection.target", target);
    }

    String roles = env.getProperty("gantry.roles", "gateway,orchestrator");
    if (!roles.toLowerCase(java.util.Locale.ROOT).contains("orchestrator")) {
      derived.put("spring.temporal.start-workers", "false");
    }
    if (env.getProperty("logging.file.name") == null) {
      derived.put("logging.file.name", data.resolve("logs").resolve("gantry.log").toString());
    }
    // Explicit settings are consulted before these, so a user's value is never overridden.
    env.getPropertySources().addLast(new MapPropertySource("gantryDerivedDefaults", derived));
  }
}
