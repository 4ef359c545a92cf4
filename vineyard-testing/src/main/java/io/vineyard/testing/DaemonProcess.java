package io.vineyard.testing;

import io.vineyard.InstanceInfo;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real {@code vineyardd} in its own JVM, on a socket and a shared-memory directory of its own and
 * a free gRPC port, for integration tests. Closing it stops the daemon and removes its files.
 *
 * <p>The daemon is started by its main class name, {@value #MAIN_CLASS}, from the caller's class
 * path: a module whose tests use this needs {@code vineyard-server} as a test dependency.
 */
public final class DaemonProcess implements AutoCloseable {

  /** The daemon's main class. */
  public static final String MAIN_CLASS = "io.vineyard.server.Vineyardd";

  private final Process process;
  private final Path socket;
  private final Path shmDir;
  private final Path log;

  private DaemonProcess(Process process, Path socket, Path shmDir, Path log) {
    this.process = process;
    this.socket = socket;
    this.shmDir = shmDir;
    this.log = log;
  }

  /**
   * Starts a daemon with {@code --size size} and any extra flags, and waits until it accepts clients.
   *
   * @param workDir where the socket and the log go (a short path: sockets are limited to 107 bytes)
   */
  public static DaemonProcess start(Path workDir, String size, String... extraArgs) throws IOException {
    return start(workDir, size, true, extraArgs);
  }

  /**
   * {@link #start} without choosing a gRPC port: the daemon takes its default one (or, when that is
   * taken and the metadata is local, a free one). Only for tests of that default.
   */
  public static DaemonProcess startOnDefaultRpcPort(Path workDir, String size, String... extraArgs) throws IOException {
    return start(workDir, size, false, extraArgs);
  }

  /** {@link #start} with JVM options of the daemon's own (after the default {@code -Xmx256m}, so they win). */
  public static DaemonProcess startWithJvmOptions(Path workDir, List<String> jvmOptions, String size, String... extraArgs)
      throws IOException {
    return start(workDir, size, true, jvmOptions, extraArgs);
  }

  private static DaemonProcess start(Path workDir, String size, boolean anyRpcPort, String... extraArgs) throws IOException {
    return start(workDir, size, anyRpcPort, List.of(), extraArgs);
  }

  private static DaemonProcess start(Path workDir, String size, boolean anyRpcPort, List<String> jvmOptions, String... extraArgs)
      throws IOException {
    Path socket = workDir.resolve("vineyard.sock");
    Path shmDir = Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-test-");
    Path log = workDir.resolve("vineyardd.log");
    List<String> args = new ArrayList<>(List.of("--socket", socket.toString(), "--size", size, "--shm-dir", shmDir.toString()));
    if (anyRpcPort && !List.of(extraArgs).contains("--rpc-port")) {
      args.addAll(List.of("--rpc-port", "0")); // several daemons run at once: any free port each
    }
    args.addAll(List.of(extraArgs));
    List<String> jvm = new ArrayList<>(List.of("-Xmx256m", "-D" + ParentWatch.REMOVE_WHEN_ORPHANED + "=" + shmDir));
    jvm.addAll(jvmOptions);
    Process p = ChildJvm.start(log, jvm, MAIN_CLASS, args.toArray(String[]::new));
    DaemonProcess d = new DaemonProcess(p, socket, shmDir, log);
    d.awaitReady(Duration.ofSeconds(60));
    return d;
  }

  private void awaitReady(Duration timeout) throws IOException {
    try {
      Poll.ignoring(VineyardException.class).await(timeout, Duration.ofMillis(50), "vineyardd to accept clients on " + socket, () -> {
        if (!process.isAlive()) {
          throw new AssertionError("vineyardd exited with " + process.exitValue() + ":\n" + Files.readString(log));
        }
        if (!Files.exists(socket)) {
          return false;
        }
        IpcClient.connect(socket).close();
        return true;
      });
    } catch (AssertionError e) {
      if (!process.isAlive()) {
        throw e; // its message has the log already
      }
      close();
      throw new AssertionError(e.getMessage() + ":\n" + Files.readString(log), e);
    }
  }

  public Path socket() {
    return socket;
  }

  public Path shmDir() {
    return shmDir;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public IpcClient connect() {
    return IpcClient.connect(socket);
  }

  public String log() throws IOException {
    return Files.readString(log);
  }

  /** This daemon's own record in the cluster (its instance id, gRPC endpoint, ...). */
  public InstanceInfo info() {
    try (IpcClient c = connect()) {
      long self = c.instanceId();
      return c.instances().stream()
          .filter(i -> i.id() == self)
          .findFirst()
          .orElseThrow(() -> new AssertionError("instance " + self + " is not in its own cluster view"));
    }
  }

  /** Kills the daemon (SIGKILL), as a crash would: it neither unregisters nor cleans up. */
  public void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }

  /** Stops the daemon (SIGTERM, then SIGKILL after 10 s) and removes its shared-memory directory. */
  @Override
  public void close() throws IOException {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (Files.exists(shmDir)) {
      try (Stream<Path> s = Files.walk(shmDir)) {
        for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(q);
        }
      }
    }
  }
}
