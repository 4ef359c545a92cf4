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

  // ---------------------------------------------------------------- CPU accounting

  /** CPU time (user + system) a process has used so far, in ms, from /proc/PID/stat; -1 if unknown. */
  static long cpuMillis(long pid) {
    if (pid <= 0) {
      return -1;
    }
    try {
      return statCpuMillis(java.nio.file.Files.readAllLines(
          java.nio.file.Path.of("/proc", Long.toString(pid), "stat")).getFirst());
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }

  private static long statCpuMillis(String stat) {
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10; // utime + stime, in 1/100 s
  }

  /** CPU ms so far of every thread of a process, keyed "name(tid)"; empty if unknown. */
  static Map<String, Long> threadCpuMillis(long pid) {
    Map<String, Long> out = new java.util.HashMap<>();
    if (pid <= 0) {
      return out;
    }
    try (java.nio.file.DirectoryStream<java.nio.file.Path> ds =
        java.nio.file.Files.newDirectoryStream(java.nio.file.Path.of("/proc", Long.toString(pid), "task"))) {
      for (java.nio.file.Path t : ds) {
        try {
          String stat = java.nio.file.Files.readAllLines(t.resolve("stat")).getFirst();
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          out.put(name + "(" + t.getFileName() + ")", statCpuMillis(stat));
        } catch (java.io.IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // no such process
    }
    return out;
  }

  /**
   * The threads that used the most CPU between two {@link #threadCpuMillis} snapshots, as
   * "name(tid)=ms, ..." (at most {@code top}, those with 0 ms left out).
   */
  static String topThreads(Map<String, Long> before, Map<String, Long> after, int top) {
    return after.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
        .filter(e -> e.getValue() > 0)
        .sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
        .limit(top)
        .map(e -> e.getKey() + "=" + e.getValue() + "ms")
        .collect(java.util.stream.Collectors.joining(", "));
  }

  /** Busy CPU time of the whole machine so far, in ms, from /proc/stat (all but idle and iowait). */
  static long machineBusyMillis() {
    try {
      String[] f = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat")).getFirst().trim().split("\\s+");
      long busy = 0;
      for (int i = 1; i < f.length && i <= 8; i++) {
        if (i != 4 && i != 5) {
          busy += Long.parseLong(f[i]);
        }
      }
      return busy * 10;
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }
}
