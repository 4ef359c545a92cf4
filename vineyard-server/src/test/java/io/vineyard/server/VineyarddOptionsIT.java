package io.vineyard.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.vineyard.client.IpcClient;
import io.vineyard.internal.HostPort;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's flags: checked before anything is made or bound, from the command line or a --config file. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class VineyarddOptionsIT {

  @TempDir Path work;

  private ChildJvm.Result vineyardd(String... args) throws Exception {
    return ChildJvm.run(Files.createTempFile(work, "vineyardd", ".log"), 60, Vineyardd.class, args);
  }

  private Path shm() throws IOException {
    return Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-options-it-");
  }

  private static long entries(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.count();
    }
  }

  /**
   * Holds 127.0.0.1:9600 for the test, so that the default port is surely taken. When something
   * else holds it already, that does as well.
   */
  private static ServerSocket holdDefaultPort() {
    try {
      return new ServerSocket(Vineyardd.DEFAULT_RPC_PORT, 1, InetAddress.getLoopbackAddress());
    } catch (IOException taken) {
      return null;
    }
  }

  @Test
  @SuppressWarnings("try") // the held port is the point, not used in the body
  void withLocalMetadataADaemonStartsOnAFreePortWhenTheDefaultOneIsTaken() throws Exception {
    try (ServerSocket held = holdDefaultPort();
        DaemonProcess d = DaemonProcess.startOnDefaultRpcPort(work, "16Mi")) {
      int port = HostPort.parse(d.info().rpcEndpoint(), 0).port();
      assertNotEquals(Vineyardd.DEFAULT_RPC_PORT, port, d.log());
      assertTrue(d.log().contains("gRPC port 9600 is taken"), d.log());
      assertTrue(d.log().contains("gRPC on 127.0.0.1:" + port), "the ready line names the port:\n" + d.log());
    }
  }

  @Test
  @SuppressWarnings("try")
  void aGrpcPortGivenOnTheCommandLineIsHadOrTheStartFails() throws Exception {
    Path shm = shm();
    try (ServerSocket held = holdDefaultPort()) {
      ChildJvm.Result r = vineyardd("--socket", work.resolve("v.sock").toString(), "--size", "16Mi", "--shm-dir",
          shm.toString(), "--rpc-port", Integer.toString(Vineyardd.DEFAULT_RPC_PORT));
      assertEquals(1, r.exitCode(), r.output());
      assertTrue(r.output().contains("cannot serve gRPC on 127.0.0.1:9600"), r.output());
      assertEquals(0, entries(shm), "a failed start leaves no shared memory behind");
      assertFalse(Files.exists(work.resolve("v.sock")));
    } finally {
      Files.delete(shm);
    }
  }

  @Test
  void aSizeWithAnUnknownUnitIsAUsageErrorThatListsTheUnits() throws Exception {
    for (String flag : List.of("--size", "--max-frame")) {
      ChildJvm.Result r = vineyardd("--socket", work.resolve("v.sock").toString(), flag, "12XB");
      assertEquals(2, r.exitCode(), r.output());
      assertTrue(r.output().contains(flag + ": unknown size unit in '12XB'"), r.output());
      assertTrue(r.output().contains("Ki, Mi, Gi, Ti"), r.output());
      assertTrue(r.output().contains("Try 'vineyardd --help'"), r.output());
    }
  }

  @Test
  void anRpcHostThatDoesNotResolveIsRefusedBeforeAnythingIsMade() throws Exception {
    Path shm = shm();
    try {
      ChildJvm.Result r = vineyardd("--socket", work.resolve("v.sock").toString(), "--size", "16Mi", "--shm-dir",
          shm.toString(), "--rpc-host", "nosuchhost.invalid");
      assertEquals(2, r.exitCode(), r.output());
      assertTrue(r.output().contains("--rpc-host nosuchhost.invalid does not resolve"), r.output());
      assertEquals(0, entries(shm));
    } finally {
      Files.delete(shm);
    }
  }

  @Test
  void aShmDirOnADiskIsWarnedAbout() throws Exception {
    Path onDisk = Files.createDirectories(Path.of("target", "shm-on-disk").toAbsolutePath());
    String type = Files.getFileStore(onDisk).type();
    assumeFalse(type.equals("tmpfs"), "the build directory is on tmpfs: no disk to try");
    Path socket = work.resolve("v.sock");
    Path log = work.resolve("disk.log");
    Process p = ChildJvm.start(log, List.of("-Xmx256m"), Vineyardd.class, "--socket", socket.toString(), "--size",
        "16Mi", "--shm-dir", onDisk.toString(), "--rpc-port", "0");
    try {
      awaitReady(socket, p, log);
      String out = Files.readString(log);
      assertTrue(out.contains("--shm-dir " + onDisk + " is on a filesystem of type " + type + ", not tmpfs"), out);
    } finally {
      p.destroy();
      p.waitFor(30, TimeUnit.SECONDS);
    }

    // And a tmpfs directory is not.
    try (DaemonProcess d = DaemonProcess.start(work, "16Mi")) {
      assertFalse(d.log().contains("not tmpfs"), d.log());
    }
  }

  @Test
  void aConfigFileSetsTheFlagsAndTheCommandLineWins() throws Exception {
    Path shm = shm();
    Path config = Files.writeString(work.resolve("vineyardd.conf"), String.join("\n",
        "# a daemon for the test",
        "size = 24Mi",
        "socket-mode = rw-------",
        "shm-dir = " + shm,
        "rpc-port = 0",
        "reserve-memory = true",
        ""));
    Path socket = work.resolve("v.sock");
    Path log = work.resolve("config.log");
    Process p = ChildJvm.start(log, List.of("-Xmx256m"), Vineyardd.class, "--config", config.toString(), "--socket",
        socket.toString(), "--size", "16Mi");
    try {
      awaitReady(socket, p, log);
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)), "from the file");
      try (IpcClient c = IpcClient.connect(socket)) {
        assertEquals(16L << 20, c.stats().capacityBytes(), "the command line wins");
      }
      assertEquals(1, entries(shm), "the file's shm-dir");
      assertTrue(Files.readString(log).contains("(reserved)"), Files.readString(log));
    } finally {
      p.destroy();
      p.waitFor(30, TimeUnit.SECONDS);
      Files.deleteIfExists(shm);
    }
  }

  @Test
  void directoriesThatDoNotExistAreCreatedAndSaidSo() throws Exception {
    Path shm = shm();
    Path shmDir = shm.resolve("new/shm");
    Path socket = work.resolve("new-dir/sub/v.sock");
    Path log = work.resolve("created.log");
    Process p = ChildJvm.start(log, List.of("-Xmx256m"), Vineyardd.class, "--socket", socket.toString(), "--size", "16Mi",
        "--shm-dir", shmDir.toString(), "--rpc-port", "0");
    try {
      awaitReady(socket, p, log);
      String out = Files.readString(log);
      assertTrue(out.contains("created " + socket.getParent() + " for the socket (it did not exist)"), out);
      assertTrue(out.contains("created " + shmDir + " (it did not exist)"), out);
    } finally {
      p.destroy();
      p.waitFor(30, TimeUnit.SECONDS);
      deleteTree(shm);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  @Test
  void aSocketPathThatHoldsSomethingElseIsRefusedAndLeftAlone() throws Exception {
    Path precious = Files.writeString(work.resolve("precious.txt"), "keep me");
    ChildJvm.Result r = vineyardd("--socket", precious.toString(), "--size", "16Mi", "--rpc-port", "0");
    assertEquals(2, r.exitCode(), r.output());
    assertTrue(r.output().contains("exists and is not a socket"), r.output());
    assertEquals("keep me", Files.readString(precious), "the file is left as it was");
  }

  @Test
  void aConfigFileWithAnUnknownKeyOrNoFileIsAUsageError() throws Exception {
    Path config = Files.writeString(work.resolve("typo.conf"), "sise = 1Gi\nsize = 1Gi\n");
    ChildJvm.Result typo = vineyardd("--config", config.toString(), "--socket", work.resolve("v.sock").toString());
    assertEquals(2, typo.exitCode(), typo.output());
    assertTrue(typo.output().contains("unknown key sise"), typo.output());
    assertTrue(typo.output().contains("reserve-memory, rpc-host, rpc-port"), "lists the keys:\n" + typo.output());

    ChildJvm.Result missing = vineyardd("--config=" + work.resolve("none.conf"));
    assertEquals(2, missing.exitCode(), missing.output());
    assertTrue(missing.output().contains("none.conf: no such file"), missing.output());
  }

  private static void awaitReady(Path socket, Process p, Path log) throws Exception {
    for (int i = 0; i < 600 && !Files.exists(socket); i++) {
      assertTrue(p.isAlive(), () -> "vineyardd exited:\n" + read(log));
      Thread.sleep(100);
    }
    assertTrue(Files.exists(socket), () -> "no socket after 60 s:\n" + read(log));
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }
}
