package io.vineyard.testing;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real single-node etcd (Debian's {@code etcd-server}, or {@code $ETCD_BIN}) on free loopback ports
 * with a data directory of its own, for integration tests. It can be stopped and started again on
 * the same ports, with or without its data.
 */
public final class EtcdProcess implements AutoCloseable {

  private final Path binary;
  private final Path dataDir;
  private final Path log;
  private final int clientPort;
  private final int peerPort;
  private Process process;

  private EtcdProcess(Path binary, Path dataDir, Path log, int clientPort, int peerPort) {
    this.binary = binary;
    this.dataDir = dataDir;
    this.log = log;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  /** Starts etcd with its data and log under {@code workDir}, and waits until it is healthy. */
  public static EtcdProcess start(Path workDir) throws IOException {
    EtcdProcess e = new EtcdProcess(binary(), workDir.resolve("etcd-data"), workDir.resolve("etcd.log"), freePort(), freePort());
    e.startProcess();
    return e;
  }

  /** The etcd binary: {@code $ETCD_BIN}, else {@code etcd} on the PATH or in /usr/bin. */
  public static Path binary() {
    String env = System.getenv("ETCD_BIN");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/bin:/usr/local/bin").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "etcd");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    throw new AssertionError(
        "these tests need etcd: install Debian's etcd-server (apt-get install etcd-server; bin/run-tests does it"
            + " when run as root) or set ETCD_BIN");
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** The client URL, e.g. {@code http://127.0.0.1:41234}. */
  public String endpoint() {
    return "http://127.0.0.1:" + clientPort;
  }

  private void startProcess() throws IOException {
    Files.createDirectories(dataDir);
    String peer = "http://127.0.0.1:" + peerPort;
    ProcessBuilder pb =
        new ProcessBuilder(List.of(
            binary.toString(),
            "--name", "test",
            "--data-dir", dataDir.toString(),
            "--listen-client-urls", endpoint(),
            "--advertise-client-urls", endpoint(),
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "test=" + peer));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    process = pb.start();
    awaitHealthy(Duration.ofSeconds(30));
  }

  private void awaitHealthy(Duration timeout) throws IOException {
    try {
      Poll.ignoring(IOException.class).await(timeout, Duration.ofMillis(50), "etcd to be healthy at " + endpoint(), () -> {
        if (!process.isAlive()) {
          throw new AssertionError("etcd exited with " + process.exitValue() + ":\n" + Files.readString(log));
        }
        HttpURLConnection c = (HttpURLConnection) URI.create(endpoint() + "/health").toURL().openConnection();
        c.setConnectTimeout(500);
        c.setReadTimeout(500);
        return c.getResponseCode() == 200 && new String(c.getInputStream().readAllBytes()).contains("true");
      });
    } catch (AssertionError e) {
      if (!process.isAlive()) {
        throw e;
      }
      throw new AssertionError(e.getMessage() + ":\n" + Files.readString(log), e);
    }
  }

  /** Kills etcd (SIGKILL): clients see it vanish as in a crash. */
  public void kill() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Starts etcd again on the same ports; with {@code wipe}, from an empty data directory. */
  public void restart(boolean wipe) throws IOException, InterruptedException {
    kill();
    if (wipe) {
      deleteTree(dataDir);
    }
    startProcess();
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(q);
        }
      }
    }
  }

  @Override
  public void close() throws IOException {
    try {
      kill();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    deleteTree(dataDir);
  }
}
