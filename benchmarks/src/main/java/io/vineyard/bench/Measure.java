package io.vineyard.bench;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Helpers the benchmark harnesses share: units, rounding, deadlines, logging and phases. */
final class Measure {

  private Measure() {}

  static Double num(Object o) {
    return o instanceof Number n ? n.doubleValue() : null;
  }

  /** GB/s (1e9 bytes/s) of {@code bytes} in {@code nanos}: bytes per ns. */
  static double gbps(long bytes, double nanos) {
    return bytes / nanos;
  }

  static double round(double v, int digits) {
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      return v;
    }
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  static long deadline(double seconds) {
    return System.nanoTime() + (long) (seconds * 1e9);
  }

  /** A value for a table cell: integers as they are, large numbers grouped, others to 2 places. */
  static String fmt(Object v) {
    if (v instanceof Long || v instanceof Integer) {
      return String.format(Locale.ROOT, "%,d", ((Number) v).longValue());
    }
    Double d = num(v);
    if (d == null) {
      return "n/a";
    }
    if (Math.abs(d) >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", d);
    }
    return String.format(Locale.ROOT, "%.2f", d);
  }

  static void log(String prefix, String fmt, Object... args) {
    System.err.printf(Locale.ROOT, "[" + prefix + "] " + fmt + "%n", args);
  }

  /**
   * Runs one phase of a harness: a failure is recorded in {@code errors} (the other phases still
   * run) and the phase's duration in {@code details}.
   */
  static void phase(String prefix, String name, Runnable body, List<String> errors, Map<String, Object> details) {
    long t0 = System.nanoTime();
    log(prefix, "phase %s ...", name);
    try {
      body.run();
    } catch (RuntimeException e) {
      errors.add(name + ": " + e);
      System.err.println("phase " + name + " failed:");
      e.printStackTrace();
    }
    double s = (System.nanoTime() - t0) / 1e9;
    details.put("phase_seconds_" + name, round(s, 2));
    log(prefix, "phase %s done in %.1f s", name, s);
  }

  /** Writes a run's results as JSON to {@code out} (creating its directory) and says where. */
  static void writeResults(java.nio.file.Path out, Map<String, Object> json) throws java.io.IOException {
    java.nio.file.Path parent = out.toAbsolutePath().getParent();
    if (parent != null) {
      java.nio.file.Files.createDirectories(parent);
    }
    java.nio.file.Files.writeString(out, Json.write(json), java.nio.charset.StandardCharsets.UTF_8);
    System.out.println("results written to " + out);
  }
}
