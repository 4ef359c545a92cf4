package io.vineyard.server.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import org.junit.jupiter.api.Assumptions;

/**
 * For tests that run clients as other local users ({@code setpriv}, so root only): the check that
 * skips them otherwise, saying so, and a directory every user may traverse.
 */
public final class OtherUsers {

  private OtherUsers() {}

  /** Skips the calling test class unless it runs as root with /usr/bin/setpriv. */
  public static void assumeRootWithSetpriv() throws IOException {
    int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    Assumptions.assumeTrue(uid == 0, "runs clients as other users with setpriv, which needs root: skipped");
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs /usr/bin/setpriv: skipped");
  }

  /** A new directory (or subdirectory of one) under /tmp of mode 0755: only what is inside decides access. */
  public static Path traversableDirectory(Path parent, String name) throws IOException {
    Path dir = parent == null ? Files.createTempDirectory(Path.of("/tmp"), name) : Files.createDirectory(parent.resolve(name));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    return dir;
  }

  /** Removes a directory made by {@link #traversableDirectory} with everything in it; null is ignored. */
  public static void delete(Path dir) throws IOException {
    if (dir == null) {
      return;
    }
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
