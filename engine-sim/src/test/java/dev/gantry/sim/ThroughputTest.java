package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ThroughputTest {

  private static final long MS = 1_000_000;

  @Test
  void defaultsKeepTtftAndInterTokenTimeWhateverThePromptAndBatch() {
    Throughput model = Throughput.of(SimConfig.defaults("m").withTiming(50, 10));

    assertThat(model.firstTokenNanos(1)).isEqualTo(50 * MS);
    assertThat(model.firstTokenNanos(100_000)).isEqualTo(50 * MS);
    assertThat(model.interTokenNanos(1)).isEqualTo(10 * MS);
    assertThat(model.interTokenNanos(SimConfig.DEFAULT_MAX_CONCURRENCY)).isEqualTo(10 * MS);
  }

  @Test
  void prefillAddsItsCostPerPromptTokenToTheFirstToken() {
    Throughput model =
        Throughput.of(SimConfig.defaults("m").withTiming(50, 10).withThroughput(200, 0));

    // 200 ms per 1000 tokens is 0.2 ms per token
    assertThat(model.firstTokenNanos(1)).isEqualTo(50 * MS + 200_000);
    assertThat(model.firstTokenNanos(1000)).isEqualTo(250 * MS);
    assertThat(model.firstTokenNanos(4000)).isEqualTo(850 * MS);
    assertThat(model.interTokenNanos(1)).isEqualTo(10 * MS);
  }

  @Test
  void decodeSlowsLinearlyWithTheBatchUpToOnePlusSlowdownWhenFull() {
    Throughput model =
        Throughput.of(
            SimConfig.defaults("m").withTiming(0, 20).withMaxConcurrency(5).withThroughput(0, 2));

    assertThat(model.interTokenNanos(1)).isEqualTo(20 * MS);
    assertThat(model.interTokenNanos(2)).isEqualTo(30 * MS);
    assertThat(model.interTokenNanos(3)).isEqualTo(40 * MS);
    assertThat(model.interTokenNanos(5)).isEqualTo(60 * MS);
    // the batch never exceeds max-concurrency; a stray count cannot push past the full batch
    assertThat(model.interTokenNanos(9)).isEqualTo(60 * MS);
    assertThat(model.firstTokenNanos(1000)).isZero();
  }

  @Test
  void aBatchOfOneNeverSlowsDown() {
    Throughput model =
        Throughput.of(
            SimConfig.defaults("m").withTiming(0, 20).withMaxConcurrency(1).withThroughput(0, 5));

    assertThat(model.interTokenNanos(1)).isEqualTo(20 * MS);
  }

  @Test
  void theLongestPromptAtTheHighestCostDoesNotOverflow() {
    Throughput model =
        Throughput.of(
            SimConfig.defaults("m")
                .withTiming(Integer.MAX_VALUE, Integer.MAX_VALUE)
                .withThroughput(
                    SimConfig.MAX_PREFILL_MS_PER_1K_TOKENS, SimConfig.MAX_DECODE_SLOWDOWN)
                .withMaxConcurrency(2));

    assertThat(model.firstTokenNanos(Integer.MAX_VALUE)).isPositive();
    assertThat(model.interTokenNanos(2)).isPositive();
  }
}
