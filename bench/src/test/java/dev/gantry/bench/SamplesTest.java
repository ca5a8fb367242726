package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SamplesTest {

  @Test
  void nearestRankPercentiles() {
    Samples samples = new Samples();
    for (int i = 100; i >= 1; i--) {
      samples.add(i);
    }

    assertThat(samples.size()).isEqualTo(100);
    assertThat(samples.percentile(50)).isEqualTo(50);
    assertThat(samples.percentile(99)).isEqualTo(99);
    assertThat(samples.percentile(99.9)).isEqualTo(100);
    assertThat(samples.max()).isEqualTo(100);
    assertThat(samples.min()).isEqualTo(1);
    assertThat(samples.mean()).isEqualTo(50.5);
  }

  @Test
  void growsAndMergesPastTheInitialCapacity() {
    Samples a = new Samples();
    Samples b = new Samples();
    for (int i = 0; i < 3000; i++) {
      a.add(i);
      b.add(10_000 + i);
    }
    a.addAll(b);

    assertThat(a.size()).isEqualTo(6000);
    assertThat(a.percentile(50)).isEqualTo(2999);
    assertThat(a.max()).isEqualTo(12_999);
  }

  @Test
  void aSingleSampleIsEveryPercentile() {
    Samples samples = new Samples();
    samples.add(42);

    assertThat(samples.percentile(1)).isEqualTo(42);
    assertThat(samples.percentile(99)).isEqualTo(42);
  }

  @Test
  void refusesEmptyAndOutOfRange() {
    Samples samples = new Samples();
    assertThatThrownBy(() -> samples.percentile(50)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(samples::min).isInstanceOf(IllegalStateException.class);
    samples.add(1);
    assertThatThrownBy(() -> samples.percentile(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> samples.percentile(101)).isInstanceOf(IllegalArgumentException.class);
  }
}
