package dev.gantry.gateway.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The request records the OpenAPI document shows are documentation only: the controller reads maps.
 * They must name exactly the fields the validator accepts, or the document would drift from it.
 */
class DeploymentRequestsTest {

  static Set<String> jsonFields(Class<? extends Record> type) {
    return Arrays.stream(type.getRecordComponents())
        .map(
            c -> {
              // JsonProperty does not target record components; it lands on the accessor.
              var renamed = c.getAccessor().getAnnotation(JsonProperty.class);
              return renamed == null ? c.getName() : renamed.value();
            })
        .collect(Collectors.toSet());
  }

  @Test
  void createDocumentsTheFieldsTheValidatorAccepts() {
    assertThat(jsonFields(DeploymentRequests.Create.class))
        .isEqualTo(DeploymentRequestValidator.CREATE_FIELDS);
  }

  @Test
  void autoscalingDocumentsTheFieldsTheValidatorAccepts() {
    assertThat(jsonFields(DeploymentRequests.Autoscaling.class))
        .isEqualTo(DeploymentRequestValidator.AUTOSCALING_FIELDS);
  }

  @Test
  void editDocumentsTheFieldsThatMayChange() {
    assertThat(jsonFields(DeploymentRequests.Edit.class))
        .isEqualTo(java.util.Set.copyOf(dev.gantry.api.deployment.EditRules.EDITABLE_FIELDS));
  }
}
