package io.vineyard.server.ipc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The daemon's resident set size, from {@code /proc/self/status} (0 where there is none). */
final class Rss {

  private Rss() {}

  /**
   * The resident set once it stops falling (what a collection frees, G1 gives back in the
   * background): read every 50 ms until it has fallen by less than 1 MiB over 200 ms, at most 2 s.
   */
  static long settled() {
    long deadline = System.nanoTime() + 2_000_000_000L;
    long[] recent = new long[5];
    int n = 0;
    while (true) {
      long now = bytes();
      recent[n % recent.length] = now;
      n++;
      if (n >= recent.length && recent[n % recent.length] - now < (1 << 20) || System.nanoTime() > deadline) {
        return now;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return now;
      }
    }
  }

  static long bytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or not readable
    }
    return 0;
  }
}
