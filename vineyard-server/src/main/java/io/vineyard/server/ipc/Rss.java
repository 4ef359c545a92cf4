package io.vineyard.server.ipc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The daemon's resident set size, from {@code /proc/self/status} (0 where there is none). */
final class Rss {

  private Rss() {}

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
