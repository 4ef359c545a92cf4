package io.vineyard.testing;

import java.io.IOException;
import java.net.HttpURLConnection;
import javax.net.ssl.HttpsURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
  private final Tls tls;
  private Process process;

  /**
   * TLS on etcd's client port: its certificate and key (PEM), and, if not null, the CA whose
   * certificates clients must present ({@code --client-cert-auth}).
   */
  public record Tls(Path certificate, Path key, Path clientCa) {}

  private EtcdProcess(Path binary, Path dataDir, Path log, int clientPort, int peerPort, Tls tls) {
    this.tls = tls;
    this.binary = binary;
    this.dataDir = dataDir;
    this.log = log;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  /** Starts etcd with its data and log under {@code workDir}, and waits until it is healthy. */
  public static EtcdProcess start(Path workDir) throws IOException {
    return start(workDir, null);
  }

  /** As {@link #start(Path)}, serving clients over TLS (https) when {@code tls} is not null. */
  public static EtcdProcess start(Path workDir, Tls tls) throws IOException {
    EtcdProcess e = new EtcdProcess(binary(), workDir.resolve("etcd-data"), workDir.resolve("etcd.log"), freePort(), freePort(), tls);
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

  /** The client URL, e.g. {@code http://127.0.0.1:41234} ({@code https} with TLS). */
  public String endpoint() {
    return (tls != null ? "https" : "http") + "://127.0.0.1:" + clientPort;
  }

  private void startProcess() throws IOException {
    Files.createDirectories(dataDir);
    String peer = "http://127.0.0.1:" + peerPort;
    List<String> args = new ArrayList<>(List.of(
        binary.toString(),
        "--name", "test",
        "--data-dir", dataDir.toString(),
        "--listen-client-urls", endpoint(),
        "--advertise-client-urls", endpoint(),
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", "test=" + peer));
    if (tls != null) {
      args.addAll(List.of("--cert-file", tls.certificate().toString(), "--key-file", tls.key().toString()));
      if (tls.clientCa() != null) {
        args.addAll(List.of("--client-cert-auth", "--trusted-ca-file", tls.clientCa().toString()));
      }
    }
    ProcessBuilder pb = new ProcessBuilder(args);
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
        if (c instanceof HttpsURLConnection https) {
          // The health check only asks whether etcd answers: it trusts etcd's own certificate.
          https.setSSLSocketFactory(trustingOnly(tls.certificate()).getSocketFactory());
          if (tls.clientCa() != null) {
            return c.getURL() != null && probeTls();
          }
        }
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

  private static javax.net.ssl.SSLContext trustingOnly(Path certificate) throws IOException {
    return TestCertificates.trusting(certificate);
  }

  /** With client certificates required, a health check over https cannot get in: a TLS port answering will do. */
  private boolean probeTls() throws IOException {
    try (java.net.Socket s = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), clientPort)) {
      return s.isConnected();
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
