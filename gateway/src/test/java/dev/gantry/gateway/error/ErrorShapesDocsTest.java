package dev.gantry.gateway.error;

import static org.assertj.core.api.Assertions.assertThat;

import io.swagger.v3.oas.annotations.media.Schema;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;

/** The error shapes the OpenAPI document shows are the ones ErrorBodies writes. */
class ErrorShapesDocsTest {
  @Test
  void theDocumentedOpenAiErrorTypesAreTheOnesWritten() throws NoSuchMethodException {
    var documented =
        OpenAiErrorBody.Error.class.getMethod("type").getAnnotation(Schema.class).allowableValues();
    var written =
        Arrays.stream(HttpStatus.values())
            .filter(HttpStatus::isError)
            .map(ErrorBodies::openAiType)
            .collect(Collectors.toSet());
    assertThat(Set.of(documented)).isEqualTo(written);
  }
}
