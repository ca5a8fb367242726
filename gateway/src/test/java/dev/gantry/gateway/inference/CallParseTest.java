package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A synchronous request's path names a deployment and route only when the engine reads it alike.
 */
class CallParseTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "/openai/dep_1/v1/chat%2Fcompletions",
        "/openai/dep_1/v1/%2e%2e/metrics",
        "/openai/dep_1/v1/.%2e/metrics",
        "/openai/dep_1/v1/%2E./metrics",
        "/openai/dep_1/v1/../metrics",
        "/openai/dep_1/v1/./chat/completions",
        "/openai/dep_1/v1/chat//completions",
        "/openai/dep_1/v1/chat/completions;x=y",
        "/openai/dep_1/v1/chat%5Ccompletions",
        "/openai/dep_1/v1/chat\\completions",
        "/openai/dep_1/v1/chat/completions/",
        "/openai/dep_1/v1/%63hat/completions",
        "/openai/dep%5F1/v1/chat/completions",
        "/openai/..%2f../v1/chat/completions",
        "/openai/dep_1/v1/",
        "/openai/dep_1/v2/chat/completions"
      })
  void aPathTheEngineWouldReadDifferentlyHasNoDeployment(String uri) {
    var call = Call.parse(uri, "req_1", 0);

    assertThat(call.deploymentId).as(uri).isNull();
    assertThat(call.upstreamPath).as(uri).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/openai/dep_1/v1/chat/completions",
        "/openai/dep_1/v1/chat/completions?x=%2e%2e",
        "/openai/dep-1/v1/models"
      })
  void aPlainPathIsRelayedAsWritten(String uri) {
    var call = Call.parse(uri, "req_1", 0);

    assertThat(call.deploymentId).as(uri).isNotNull();
    assertThat(uri).startsWith("/openai/" + call.deploymentId + call.upstreamPath);
  }
}
