package dev.gantry.gateway.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.gantry.api.deployment.EditRequest;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.error.FieldError;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.gpu.GpuCatalog;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.http.HttpStatus;

/**
 * A PATCH body through the validator: JSON types are read here and the rules come from {@code
 * EditRules}; the answers are docs/api.md's, as before the rules moved.
 */
class DeploymentEditValidationTest {
  private final DeploymentRequestValidator validator;

  DeploymentEditValidationTest() {
    var properties =
        new Binder(
                new MapConfigurationPropertySource(
                    Map.of(
                        "gantry.data-dir", "/tmp/unused",
                        "gantry.limits.max-idle-timeout-seconds", "600",
                        "gantry.limits.max-wait-time-seconds", "120")))
            .bind("gantry", GantryProperties.class)
            .get();
    validator = new DeploymentRequestValidator(new GpuCatalog(properties), properties);
  }

  private ApiProblem refused(Map<String, Object> body) {
    return catchThrowableOfType(ApiProblem.class, () -> validator.validateEdit(body));
  }

  @Test
  void aValidEditIsReadWithItsNameStripped() {
    assertThat(
            validator.validateEdit(
                Map.of("name", "  chat-2 ", "idle_timeout_seconds", 600, "wait_time_seconds", 1)))
        .isEqualTo(new EditRequest("chat-2", 600, 1));
    assertThat(validator.validateEdit(Map.of("wait_time_seconds", 120L)))
        .isEqualTo(new EditRequest(null, null, 120));
  }

  @Test
  void anEmptyBodyIsRefused() {
    var problem = refused(Map.of());
    assertThat(problem.status()).isEqualTo(HttpStatus.BAD_REQUEST);
    assertThat(problem.errors())
        .containsExactly(
            new FieldError("body", "must change name, idle_timeout_seconds or wait_time_seconds"));
  }

  @Test
  void fieldsThatCannotChangeAre422WithoutLookingFurther() {
    var problem = refused(Map.of("max_workers", 3, "gpu", Map.of(), "name", ""));
    assertThat(problem.status()).isEqualTo(HttpStatus.UNPROCESSABLE_CONTENT);
    assertThat(problem.getMessage())
        .isEqualTo(
            "Only name, idle_timeout_seconds and wait_time_seconds can change on a running"
                + " deployment; to change gpu, max_workers, create a new deployment.");
    assertThat(problem.errors())
        .containsExactly(
            new FieldError("gpu", "cannot be changed"),
            new FieldError("max_workers", "cannot be changed"));
  }

  @Test
  void everyBadFieldIsListedInFieldOrderWhetherTypeOrRule() {
    var body = new LinkedHashMap<String, Object>();
    body.put("wait_time_seconds", "soon");
    body.put("idle_timeout_seconds", 601);
    body.put("name", " ");
    var problem = refused(body);
    assertThat(problem.status()).isEqualTo(HttpStatus.BAD_REQUEST);
    assertThat(problem.errors())
        .containsExactly(
            new FieldError("name", "must not be blank"),
            new FieldError("idle_timeout_seconds", "must be between 1 and 600"),
            new FieldError("wait_time_seconds", "must be an integer"));

    var more = new HashMap<String, Object>();
    more.put("name", 7);
    more.put("idle_timeout_seconds", 0);
    more.put("wait_time_seconds", 121);
    assertThat(refused(more).errors())
        .containsExactly(
            new FieldError("name", "must be a string"),
            new FieldError("idle_timeout_seconds", "must be between 1 and 600"),
            new FieldError("wait_time_seconds", "must be between 1 and 120"));
    assertThat(refused(Map.of("name", "x".repeat(101))).errors())
        .containsExactly(new FieldError("name", "must be at most 100 characters"));
    assertThat(refused(Map.of("name", "a\nb")).errors())
        .containsExactly(new FieldError("name", "must not contain control characters"));
  }
}
