package io.vineyard.bench;

import java.util.Arrays;

/** A bounded series of timings in nanoseconds, and its order statistics. */
final class Samples {

  private final long[] values;
  private int count;
  private boolean sorted;

  Samples(int capacity) {
    values = new long[capacity];
  }

  /** Records one timing; the caller's loop bound keeps this within the capacity. */
  void add(long nanos) {
    if (count < values.length) {
      values[count++] = nanos;
      sorted = false;
    }
  }

  /** Passes every recorded value, in no particular order. */
  void forEach(java.util.function.LongConsumer action) {
    for (int i = 0; i < count; i++) {
      action.accept(values[i]);
    }
  }

  boolean isFull() {
    return count == values.length;
  }

  int count() {
    return count;
  }

  private long[] sorted() {
    if (!sorted) {
      Arrays.sort(values, 0, count);
      sorted = true;
    }
    return values;
  }

  /** Nearest-rank percentile (p in 0..100), in nanoseconds; NaN when empty. */
  double percentile(double p) {
    if (count == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(p / 100.0 * count);
    return sorted()[Math.clamp(rank - 1, 0, count - 1)];
  }

  double median() {
    return percentile(50);
  }

  double min() {
    return count == 0 ? Double.NaN : sorted()[0];
  }

  double max() {
    return count == 0 ? Double.NaN : sorted()[count - 1];
  }

  double mean() {
    if (count == 0) {
      return Double.NaN;
    }
    double sum = 0;
    for (int i = 0; i < count; i++) {
      sum += values[i];
    }
    return sum / count;
  }
}
