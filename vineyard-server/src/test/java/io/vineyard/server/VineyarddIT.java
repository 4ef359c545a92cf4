package io.vineyard.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.client.IpcClient;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Starting and stopping the daemon, through its launcher script and its flags. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class VineyarddIT {

  @TempDir Path work;

  /** The repository root (this module's parent directory). */
  private static Path root() {
    return Path.of(System.getProperty("user.dir")).getParent();
  }

  private static ChildJvm.Result runLauncher(Path log, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(root().resolve("bin/vineyardd").toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("bin/vineyardd " + String.join(" ", args) + " did not exit:\n" + Files.readString(log));
    }
    return new ChildJvm.Result(p.exitValue(), Files.readString(log));
  }

  @Test
  void launcherHelpListsEveryFlagWithItsDefault() throws Exception {
    ChildJvm.Result r = runLauncher(work.resolve("help.log"), "--help");
    assertEquals(0, r.exitCode(), r.output());
    for (String flag : List.of("--socket", "--size", "--shm-dir", "--reserve-memory", "--socket-mode", "--max-frame")) {
      assertTrue(r.output().contains(flag), flag + " missing from:\n" + r.output());
    }
    assertTrue(r.output().contains("Default: 1Gi"), r.output());
    assertFalse(r.output().contains("WARNING"), "the launcher's JVM flags should be clean:\n" + r.output());
  }

  @Test
  void launcherStartsADaemonThatServesClientsAndCleansUpOnSigterm() throws Exception {
    Path socket = work.resolve("v.sock");
    Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-it-");
    Path log = work.resolve("d.log");
    Process p =
        new ProcessBuilder(root().resolve("bin/vineyardd").toString(), "--socket", socket.toString(), "--size", "64Mi",
                "--shm-dir", shm.toString(), "--reserve-memory", "--rpc-port", "0")
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      awaitSocket(socket, p, log);
      assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
      try (IpcClient c = IpcClient.connect(socket)) {
        assertEquals(64L << 20, c.stats().capacityBytes());
        c.delete(c.putBlob(new byte[1000]));
      }
      try (Stream<Path> s = Files.list(shm)) {
        assertEquals(1, s.count(), "one private directory per daemon");
      }
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), Files.readString(log));
      assertFalse(Files.exists(socket), "socket removed on shutdown");
      try (Stream<Path> s = Files.list(shm)) {
        assertEquals(0, s.count(), "shared memory removed on shutdown");
      }
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(shm);
    }
  }

  @Test
  void badFlagsAndImpossibleReservationsFailAtStartWithAClearMessage() throws Exception {
    ChildJvm.Result badSize = runLauncher(work.resolve("a.log"), "--socket", work.resolve("a.sock").toString(), "--size", "lots");
    assertNotEquals(0, badSize.exitCode());
    assertTrue(badSize.output().contains("not a size") || badSize.output().contains("unknown size unit"), badSize.output());

    Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-it-");
    ChildJvm.Result tooBig =
        runLauncher(work.resolve("b.log"), "--socket", work.resolve("b.sock").toString(), "--size", "64Ti",
            "--reserve-memory", "--shm-dir", shm.toString());
    try (Stream<Path> s = Files.list(shm)) {
      assertEquals(0, s.count(), "a failed start leaves no shared memory behind");
    }
    Files.delete(shm);
    assertNotEquals(0, tooBig.exitCode());
    assertTrue(tooBig.output().contains("cannot reserve"), tooBig.output());
    assertFalse(tooBig.output().contains("\tat "), "no stack trace for a user error:\n" + tooBig.output());
  }

  @Test
  void aSecondDaemonOnTheSameSocketIsRefusedAndAStaleSocketIsReplaced() throws Exception {
    try (DaemonProcess first = DaemonProcess.start(work, "16Mi")) {
      ChildJvm.Result second =
          ChildJvm.run(work.resolve("second.log"), 60, Vineyardd.class, "--socket", first.socket().toString(), "--size", "16Mi");
      assertNotEquals(0, second.exitCode());
      assertTrue(second.output().contains("already listening"), second.output());
      try (IpcClient c = first.connect()) {
        assertTrue(c.stats().capacityBytes() > 0, "the first daemon is untouched");
      }
    }
    // A socket file left behind by a killed daemon does not stop the next one.
    Path stale = work.resolve("stale");
    Files.createDirectories(stale);
    try (DaemonProcess killed = DaemonProcess.start(stale, "16Mi")) {
      ProcessHandle.of(killed.pid()).orElseThrow().destroyForcibly();
      Thread.sleep(500);
      assertTrue(Files.exists(killed.socket()));
    }
    try (DaemonProcess next = DaemonProcess.start(stale, "16Mi"); IpcClient c = next.connect()) {
      assertEquals(16L << 20, c.stats().capacityBytes());
    }
  }

  private static void awaitSocket(Path socket, Process p, Path log) throws Exception {
    try {
      Poll.ignoring(io.vineyard.VineyardException.class).await(Duration.ofSeconds(60), Duration.ofMillis(50), "daemon ready", () -> {
        if (!p.isAlive()) {
          throw new AssertionError("daemon exited:\n" + Files.readString(log));
        }
        if (!Files.exists(socket)) {
          return false;
        }
        IpcClient.connect(socket).close();
        return true;
      });
    } catch (AssertionError e) {
      if (!p.isAlive()) {
        throw e;
      }
      throw new AssertionError("daemon not ready:\n" + Files.readString(log), e);
    }
  }
}
