package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;

/** Only a process with the gateway role serves the OpenAPI document and Swagger UI. */
class GantryEnvironmentPostProcessorTest {

  static ConfigurableEnvironment processed(Map<String, Object> settings) {
    var env = new StandardEnvironment();
    env.getPropertySources().addFirst(new MapPropertySource("settings", settings));
    new GantryEnvironmentPostProcessor().postProcessEnvironment(env, new SpringApplication());
    return env;
  }

  @Test
  void anOrchestratorOnlyProcessServesNoApiDocs() {
    var env = processed(Map.of("gantry.roles", "orchestrator"));
    assertThat(env.getProperty("springdoc.api-docs.enabled")).isEqualTo("false");
    assertThat(env.getProperty("springdoc.swagger-ui.enabled")).isEqualTo("false");
    assertThat(env.getProperty("spring.web.resources.add-mappings")).isEqualTo("false");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "gateway", "Orchestrator,Gateway"})
  void aGatewayServesThem(String roles) {
    var settings = new HashMap<String, Object>();
    if (!roles.isEmpty()) {
      settings.put("gantry.roles", roles);
    }
    var env = processed(settings);
    // Unset: springdoc's default, enabled.
    assertThat(env.getProperty("springdoc.api-docs.enabled")).isNull();
    assertThat(env.getProperty("springdoc.swagger-ui.enabled")).isNull();
  }

  @Test
  void onlyAGatewayWhoseKeyFilterGuardsThemExposesTheMetrics() {
    String exposure = "management.endpoints.web.exposure.include";
    assertThat(processed(Map.of("gantry.roles", "orchestrator")).getProperty(exposure))
        .isEqualTo("health,info");
    assertThat(processed(Map.of("gantry.roles", "gateway")).getProperty(exposure))
        .isEqualTo("health,info,prometheus");
    assertThat(
            processed(Map.of("gantry.roles", "orchestrator", exposure, "health,prometheus"))
                .getProperty(exposure))
        .isEqualTo("health,prometheus");
  }

  @Test
  void anExplicitSettingWins() {
    var env =
        processed(Map.of("gantry.roles", "orchestrator", "springdoc.api-docs.enabled", "true"));
    assertThat(env.getProperty("springdoc.api-docs.enabled")).isEqualTo("true");
  }
}
