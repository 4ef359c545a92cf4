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

  /**
   * Runs a child JVM (stderr inherited) to completion within {@code timeoutSeconds} and returns the
   * last line of its stdout that is a flat JSON object, parsed. If this JVM is stopped meanwhile (a
   * script's trap), the child goes with it.
   *
   * @param what names the child in errors
   */
  static Map<String, Double> runJsonChild(ProcessBuilder pb, String what, long timeoutSeconds) {
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process p;
    try {
      p = pb.start();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot start the " + what, e);
    }
    Thread killChild = new Thread(p::destroyForcibly, "kill-child");
    Runtime.getRuntime().addShutdownHook(killChild);
    try {
      List<String> lines = new java.util.ArrayList<>();
      Thread reader = Thread.ofPlatform().daemon().name("child-stdout").start(() -> {
        try (java.io.BufferedReader r = new java.io.BufferedReader(
            new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null && lines.size() < 10_000) {
            synchronized (lines) {
              lines.add(line);
            }
          }
        } catch (java.io.IOException e) {
          // the child is gone; its exit status tells
        }
      });
      try {
        if (!p.waitFor(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IllegalStateException(what + " did not finish within " + timeoutSeconds + " s");
        }
        reader.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
        throw new IllegalStateException("interrupted waiting for the " + what, e);
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(what + " exited with " + p.exitValue());
      }
      synchronized (lines) {
        for (int i = lines.size() - 1; i >= 0; i--) {
          String l = lines.get(i).strip();
          if (l.startsWith("{") && l.endsWith("}")) {
            return Json.parseFlatNumbers(l);
          }
        }
        throw new IllegalStateException(what + " printed no JSON line; stdout was: " + lines);
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(killChild);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs
      }
    }
  }
}
