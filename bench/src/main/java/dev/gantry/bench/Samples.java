package dev.gantry.bench;

import java.util.Arrays;

/**
 * A growable list of durations in nanoseconds with exact (nearest-rank) percentiles. A benchmark
 * run holds at most a few hundred thousand samples, so keeping them all is cheaper and simpler than
 * a histogram and loses no precision. Not thread-safe.
 */
final class Samples {

  private long[] values = new long[1024];
  private int size;
  private boolean sorted = true;

  void add(long value) {
    if (size == values.length) {
      values = Arrays.copyOf(values, size * 2);
    }
    if (size > 0 && value < values[size - 1]) {
      sorted = false;
    }
    values[size++] = value;
  }

  void addAll(Samples other) {
    for (int i = 0; i < other.size; i++) {
      add(other.values[i]);
    }
  }

  int size() {
    return size;
  }

  /**
   * The nearest-rank percentile: the smallest sample such that at least {@code p} percent of the
   * samples are at or below it.
   *
   * @param p between 0 (exclusive) and 100 (inclusive)
   * @throws IllegalStateException when there are no samples
   */
  long percentile(double p) {
    if (!(p > 0 && p <= 100)) {
      throw new IllegalArgumentException("percentile must be in (0, 100], got " + p);
    }
    if (size == 0) {
      throw new IllegalStateException("no samples");
    }
    sort();
    int rank = (int) Math.ceil(p / 100.0 * size);
    return values[Math.max(0, rank - 1)];
  }

  long min() {
    if (size == 0) {
      throw new IllegalStateException("no samples");
    }
    sort();
    return values[0];
  }

  long max() {
    return percentile(100);
  }

  double mean() {
    if (size == 0) {
      throw new IllegalStateException("no samples");
    }
    double sum = 0;
    for (int i = 0; i < size; i++) {
      sum += values[i];
    }
    return sum / size;
  }

  private void sort() {
    if (!sorted) {
      Arrays.sort(values, 0, size);
      sorted = true;
    }
  }
}
