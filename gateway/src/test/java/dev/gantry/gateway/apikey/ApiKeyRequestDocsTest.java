package dev.gantry.gateway.apikey;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The create body the OpenAPI document shows names exactly the fields the controller accepts. */
class ApiKeyRequestDocsTest {
  @Test
  void createDocumentsTheAcceptedFields() {
    assertThat(
            Arrays.stream(ApiKeyController.CreateRequest.class.getRecordComponents())
                .map(RecordComponent::getName)
                .collect(Collectors.toSet()))
        .isEqualTo(ApiKeyController.FIELDS);
  }
}
