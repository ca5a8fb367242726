package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestLimitsTest {
  static final GantryProperties.Limits DEFAULTS =
      new GantryProperties.Limits(64, 1024, 8, 10000, 86400, 3600, 100, 16384, 1048576, 4, 128);
  final RequestLimits limits = new RequestLimits(DEFAULTS);

  static DeploymentSpec spec(Integer maxTokens, Integer n) {
    return spec(Framework.VLLM, maxTokens, n);
  }

  static DeploymentSpec spec(Framework framework, Integer maxTokens, Integer n) {
    return new DeploymentSpec(
        "chat", "tiny", framework, null, 0, 1, 8, 300, 60, 1, List.of(), List.of(), maxTokens, n);
  }

  static RequestFields.Sizes sizes(String json) {
    return RequestFields.read(json.getBytes(StandardCharsets.UTF_8)).sizes();
  }

  @Test
  void aDeploymentWithoutLimitsHasThePlatformDefaults() {
    var spec = spec(null, null);

    assertThat(limits.check(spec, "chat/completions", sizes("{\"max_tokens\":16384,\"n\":4}")))
        .isNull();
    assertThat(limits.check(spec, "chat/completions", sizes("{\"max_tokens\":16385}"))).isNotNull();
    assertThat(limits.check(spec, "completions", sizes("{\"n\":5}"))).isNotNull();
  }

  @Test
  void aNumberSentAsAStringMeetsTheSameLimits() {
    var spec = spec(null, null);

    assertThat(limits.check(spec, "chat/completions", sizes("{\"max_tokens\":\"16385\"}")))
        .isNotNull();
    assertThat(
            limits.check(
                spec, "chat/completions", sizes("{\"max_completion_tokens\":\" 1000000 \"}")))
        .isNotNull();
    assertThat(limits.check(spec, "completions", sizes("{\"n\":\"64\"}"))).isNotNull();
    assertThat(limits.check(spec, "completions", sizes("{\"n\":\"two\"}"))).isNull();
  }

  @Test
  void onlyGenerationRoutesAreLimitedAndCapped() {
    var spec = spec(10, 1);
    byte[] body = "{\"input\":\"x\",\"n\":99}".getBytes(StandardCharsets.UTF_8);
    var parsed = RequestFields.read(body).sizes();

    assertThat(limits.check(spec, "embeddings", parsed)).isNull();
    assertThat(limits.capped(spec, "embeddings", body, parsed)).isSameAs(body);
  }

  @Test
  void aRequestWithItsOwnLengthIsSentAsItCame() {
    var spec = spec(10, 1);
    byte[] body = "{\"max_tokens\":3}".getBytes(StandardCharsets.UTF_8);

    assertThat(limits.capped(spec, "completions", body, RequestFields.read(body).sizes()))
        .isSameAs(body);
  }

  @Test
  void aRequestWithoutALengthGetsTheLimit() {
    var spec = spec(10, 1);
    byte[] body = "{\"prompt\":\"x\",\"max_tokens\":null}".getBytes(StandardCharsets.UTF_8);

    byte[] sent = limits.capped(spec, "completions", body, RequestFields.read(body).sizes());

    assertThat(RequestFields.read(sent).sizes().maxTokens()).isEqualTo(10);
  }

  @Test
  void theSimulatorStopsAtItsOwnDefaultAndIsNotCapped() {
    var spec = spec(Framework.SIM, 10, 1);
    byte[] body = "{\"prompt\":\"x\"}".getBytes(StandardCharsets.UTF_8);

    assertThat(limits.capped(spec, "completions", body, RequestFields.read(body).sizes()))
        .isSameAs(body);
  }

  @Test
  void theResponsesApiIsHeldToTheTokenLimitAndCappedByItsOwnField() {
    var spec = spec(10, 1);

    assertThat(limits.check(spec, "responses", sizes("{\"max_output_tokens\":11}")))
        .hasMessage("max_output_tokens must be at most 10 on this deployment");
    assertThat(limits.check(spec, "responses", sizes("{\"max_output_tokens\":10}"))).isNull();

    byte[] body = "{\"input\":\"x\"}".getBytes(StandardCharsets.UTF_8);
    byte[] sent = limits.capped(spec, "responses", body, RequestFields.read(body).sizes());
    assertThat(RequestFields.read(sent).sizes().maxOutputTokens()).isEqualTo(10);
    assertThat(RequestFields.read(sent).sizes().maxTokens()).isNaN();
  }

  @Test
  void aListOfPromptsCountsEachPromptsChoicesAgainstTheChoiceLimit() {
    var spec = spec(null, 4);

    assertThat(limits.check(spec, "completions", sizes("{\"prompt\":[\"a\",\"b\",\"c\"],\"n\":2}")))
        .hasMessage("prompts times n (or best_of) must be at most 4 on this deployment");
    assertThat(
            limits.check(
                spec, "completions", sizes("{\"prompt\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}")))
        .isNotNull();
    assertThat(limits.check(spec, "completions", sizes("{\"prompt\":[[1,2],[3]],\"best_of\":2}")))
        .isNull();
    // One prompt given as token ids, and one string prompt.
    assertThat(limits.check(spec, "completions", sizes("{\"prompt\":[1,2,3,4,5,6],\"n\":4}")))
        .isNull();
    assertThat(limits.check(spec, "completions", sizes("{\"prompt\":\"x\",\"n\":4}"))).isNull();
    // Chat completions have no prompt list.
    assertThat(
            limits.check(
                spec, "chat/completions", sizes("{\"prompt\":[\"a\",\"b\",\"c\"],\"n\":2}")))
        .isNull();
  }
}
