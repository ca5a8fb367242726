package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SimConfigTest {

  @Test
  void parsesRequiredFlagsAndAppliesDefaults() {
    SimConfig config = SimConfig.parse(new String[] {"--port", "8001", "--model", "llama"});

    assertThat(config).isEqualTo(SimConfig.defaults("llama").withPort(8001));
    assertThat(config.host()).isEqualTo("127.0.0.1");
    assertThat(config.startupSeconds()).isZero();
    assertThat(config.ttftMs()).isEqualTo(50);
    assertThat(config.interTokenMs()).isEqualTo(10);
    assertThat(config.prefillMsPer1kTokens()).isZero();
    assertThat(config.decodeSlowdown()).isZero();
    assertThat(config.maxConcurrency()).isEqualTo(8);
    assertThat(config.failAfterRequests()).isZero();
    assertThat(config.maxTokensDefault()).isEqualTo(64);
    assertThat(config.embeddingDim()).isEqualTo(384);
  }

  @Test
  void parsesEveryFlagInBothSyntaxes() {
    SimConfig config =
        SimConfig.parse(
            new String[] {
              "--port=0",
              "--model",
              "org/model-7b",
              "--host=0.0.0.0",
              "--startup-seconds",
              "1.5",
              "--ttft-ms=7",
              "--inter-token-ms",
              "3",
              "--prefill-ms-per-1k-tokens=120",
              "--decode-slowdown",
              "1.5",
              "--max-concurrency=4",
              "--fail-after-requests",
              "9",
              "--max-tokens-default=16",
              "--embedding-dim",
              "32"
            });

    assertThat(config)
        .isEqualTo(new SimConfig(0, "0.0.0.0", "org/model-7b", 1.5, 7, 3, 120, 1.5, 4, 9, 16, 32));
  }

  @Test
  void toArgsRoundTrips() {
    SimConfig config =
        SimConfig.defaults("m")
            .withPort(1234)
            .withStartupSeconds(0.25)
            .withTiming(1, 2)
            .withThroughput(7, 0.25)
            .withMaxConcurrency(3)
            .withFailAfterRequests(4)
            .withMaxTokensDefault(5)
            .withEmbeddingDim(6);

    assertThat(SimConfig.parse(config.toArgs().toArray(String[]::new))).isEqualTo(config);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "--port 1 --model m --bogus 3 | unknown flag --bogus",
        "--port 1 --model m --bogus=3 | unknown flag --bogus",
        "--port 1 --model | missing value for --model",
        "--port --model m | missing value for --port",
        "--port abc --model m | --port expects an integer between 0 and 65535, got 'abc'",
        "--port 70000 --model m | --port expects an integer between 0 and 65535, got 70000",
        "--port 1 --model m --ttft-ms -5 | --ttft-ms expects an integer >= 0, got -5",
        "--port 1 --model m --max-concurrency 0 | --max-concurrency expects an integer >= 1",
        "--port 1 --model m --startup-seconds soon | --startup-seconds expects a number",
        "--port 1 --model m --inter-token-ms 1.5 | --inter-token-ms expects an integer",
        "--port 1 --model m --prefill-ms-per-1k-tokens -1 | --prefill-ms-per-1k-tokens expects an"
            + " integer between 0 and 3600000, got -1",
        "--port 1 --model m --prefill-ms-per-1k-tokens 0.5 | --prefill-ms-per-1k-tokens expects an"
            + " integer",
        "--port 1 --model m --decode-slowdown -0.5 | --decode-slowdown expects a number between 0"
            + " and 1000, got '-0.5'",
        "--port 1 --model m --decode-slowdown NaN | --decode-slowdown expects a number",
        "--port 1 --model m --decode-slowdown 1001 | --decode-slowdown expects a number",
        "--port 1 --model m --decode-slowdown fast | --decode-slowdown expects a number",
        "--model m | missing required flag --port",
        "--port 1 | missing required flag --model",
        "--port 1 --model m --port 2 | --port given more than once",
        "--port 1 --model m extra | unexpected argument 'extra'",
        "--port 1 --model= | --model must not be empty"
      })
  void rejectsBadFlagsWithAHelpfulMessage(String args, String message) {
    assertThatThrownBy(() -> SimConfig.parse(args.trim().split(" +")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void constructorValidatesValues() {
    assertThatThrownBy(() -> SimConfig.defaults(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("model");
    assertThatThrownBy(() -> SimConfig.defaults("m").withMaxConcurrency(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxConcurrency");
    assertThatThrownBy(() -> SimConfig.defaults("m").withThroughput(-1, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefillMsPer1kTokens");
    assertThatThrownBy(() -> SimConfig.defaults("m").withThroughput(0, Double.POSITIVE_INFINITY))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("decodeSlowdown");
    assertThatThrownBy(() -> SimConfig.defaults("m").withStartupSeconds(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("startupSeconds");
  }
}
