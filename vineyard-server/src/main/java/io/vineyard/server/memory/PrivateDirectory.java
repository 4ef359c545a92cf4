package io.vineyard.server.memory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A daemon's own directory under a shared parent: {@code <parent>/vineyardd-<pid>}, mode 0700.
 * Creating one also removes the directories of daemons that are no longer running, so files left
 * by a killed daemon do not pile up.
 */
final class PrivateDirectory {

  private static final Logger LOG = LoggerFactory.getLogger(PrivateDirectory.class);
  private static final String PREFIX = "vineyardd-";

  private PrivateDirectory() {}

  /** Creates this process's directory under {@code parent} (emptied if it existed). */
  static Path create(Path parent) throws IOException {
    if (!Files.isDirectory(parent)) {
      Files.createDirectories(parent);
      LOG.info("created {} (it did not exist)", parent);
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, PREFIX + "*")) {
      for (Path p : ds) {
        try {
          long pid = Long.parseLong(p.getFileName().toString().substring(PREFIX.length()));
          if (ProcessHandle.of(pid).isEmpty()) {
            LOG.info("removing files of a daemon that is gone: {}", p);
            deleteTree(p);
          }
        } catch (NumberFormatException e) {
          // not a daemon's directory
        }
      }
    }
    Path dir = parent.resolve(PREFIX + ProcessHandle.current().pid());
    deleteTree(dir);
    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    return dir;
  }

  /** Removes a directory and everything in it; logs, never throws. */
  static void deleteTree(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(q -> {
        try {
          Files.deleteIfExists(q);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("cannot remove {}: {}", p, e.toString());
    }
  }
}
