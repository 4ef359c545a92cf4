package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher script {@code bin/vineyardctl} itself, as separate processes against a real daemon. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LauncherIT {

  private static final Pattern ID = Pattern.compile("o[0-9a-f]{16}");
  private static final long WAIT_SECONDS = 60;
  private static final int SIZE = 20 << 20;

  @TempDir static Path daemonDir;
  @TempDir Path work;

  private static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws IOException {
    assertTrue(daemonDir.resolve("vineyard.sock").toString().length() < 100, "socket path too long: " + daemonDir);
    daemon = DaemonProcess.start(daemonDir, "256Mi");
  }

  @AfterAll
  static void stopDaemon() throws IOException {
    if (daemon != null) {
      daemon.close();
    }
  }

  /** The repository root (this module's parent directory). */
  private static Path launcher() {
    Path script = Path.of(System.getProperty("user.dir")).getParent().resolve("bin/vineyardctl");
    assertTrue(Files.isExecutable(script), script + " is not executable");
    return script;
  }

  /** A finished launcher: exit status, stdout (as text, unless it went to a file) and stderr. */
  record Run(List<String> command, int code, String stdout, String stderr) {
    @Override
    public String toString() {
      return String.join(" ", command) + " -> " + code + "\n--- stdout:\n" + stdout + "\n--- stderr:\n" + stderr;
    }

    String lastLine() {
      List<String> lines = stdout.lines().toList();
      return lines.isEmpty() ? "" : lines.getLast();
    }
  }

  private ProcessBuilder builder(Map<String, String> env, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(launcher().toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
    pb.environment().remove("VINEYARD_IPC_SOCKET");
    pb.environment().remove("VINEYARDCTL_JAVA_OPTS");
    pb.environment().putAll(env);
    return pb;
  }

  /** Runs the launcher with stdin from {@code in} (if any) and waits, bounded. */
  private Run run(Map<String, String> env, Path in, String... args) throws Exception {
    ProcessBuilder pb = builder(env, args);
    Path out = Files.createTempFile(work, "out", ".txt");
    Path err = Files.createTempFile(work, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.redirectInput(in != null ? ProcessBuilder.Redirect.from(in.toFile()) : ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    Process p = pb.start();
    await(p, pb.command(), out, err);
    return new Run(pb.command(), p.exitValue(), Files.readString(out), Files.readString(err));
  }

  private Run run(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--socket", daemon.socket().toString()));
    all.addAll(List.of(args));
    return run(Map.of(), null, all.toArray(String[]::new));
  }

  private static void await(Process p, List<String> cmd, Path out, Path err) throws Exception {
    if (!p.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError(String.join(" ", cmd) + " did not finish in " + WAIT_SECONDS + " s\n--- stdout:\n"
          + (out != null ? Files.readString(out) : "(piped)") + "\n--- stderr:\n" + Files.readString(err));
    }
  }

  private static Run succeeded(Run r) {
    assertEquals(0, r.code(), r::toString);
    assertEquals("", r.stderr(), () -> "no warnings on stderr: " + r);
    return r;
  }

  private Path randomFile(String name, long seed) throws IOException {
    byte[] content = new byte[SIZE];
    new Random(seed).nextBytes(content);
    return Files.write(work.resolve(name), content);
  }

  private static String sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return sha256(in);
    }
  }

  private static String sha256(InputStream in) throws IOException {
    MessageDigest md = digest();
    byte[] buf = new byte[1 << 16];
    for (int n; (n = in.read(buf)) >= 0; ) {
      md.update(buf, 0, n);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aFileRoundTripsThroughPutAndGetToAFile() throws Exception {
    Path in = randomFile("in.bin", 1);
    Run put = succeeded(run("put", in.toString(), "--name", "launcher-file"));
    String id = put.lastLine();
    assertTrue(ID.matcher(id).matches(), put::toString);
    assertEquals(1, put.stdout().lines().count(), put::toString);

    Path out = work.resolve("copy.bin");
    Run get = succeeded(run("get", id, "-o", out.toString()));
    assertEquals("", get.stdout(), get::toString);
    assertEquals(SIZE, Files.size(out));
    assertEquals(sha256(in), sha256(out));

    Path byName = work.resolve("by-name.bin");
    succeeded(run("get", "launcher-file", "-o", byName.toString()));
    assertEquals(sha256(in), sha256(byName));

    try (IpcClient c = daemon.connect()) {
      assertEquals(SIZE, c.getMeta(ObjectId.parse(id)).nbytes());
      c.delete(ObjectId.parse(id));
    }
  }

  @Test
  void aPipeRoundTripsThroughPutDashAndGetToStandardOutput() throws Exception {
    Path in = randomFile("piped.bin", 2);
    String socket = daemon.socket().toString();

    // put -: the test writes the file into the process's stdin pipe.
    ProcessBuilder putPb = builder(Map.of(), "--socket", socket, "put", "-");
    Path putOut = work.resolve("put.out");
    Path putErr = work.resolve("put.err");
    putPb.redirectOutput(putOut.toFile()).redirectError(putErr.toFile());
    Process put = putPb.start();
    CompletableFuture<Void> feed = CompletableFuture.runAsync(() -> {
      try (OutputStream stdin = put.getOutputStream()) {
        Files.copy(in, stdin);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    await(put, putPb.command(), putOut, putErr);
    feed.get(WAIT_SECONDS, TimeUnit.SECONDS);
    Run putRun = succeeded(new Run(putPb.command(), put.exitValue(), Files.readString(putOut), Files.readString(putErr)));
    String id = putRun.lastLine();
    assertTrue(ID.matcher(id).matches(), putRun::toString);

    // get ID: the test reads the process's stdout pipe into a file, hashing on the way.
    ProcessBuilder getPb = builder(Map.of(), "--socket", socket, "get", id);
    Path getErr = work.resolve("get.err");
    getPb.redirectError(getErr.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    Process get = getPb.start();
    Path copy = work.resolve("piped.copy");
    CompletableFuture<String> drain = CompletableFuture.supplyAsync(() -> {
      MessageDigest md = digest();
      try (InputStream stdout = new DigestInputStream(get.getInputStream(), md)) {
        Files.copy(stdout, copy);
        return HexFormat.of().formatHex(md.digest());
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    await(get, getPb.command(), null, getErr);
    String streamed;
    try {
      streamed = drain.get(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new AssertionError("reading the output of " + getPb.command() + ": " + Files.readString(getErr), e);
    }
    Run getRun = succeeded(new Run(getPb.command(), get.exitValue(), "(" + Files.size(copy) + " bytes)", Files.readString(getErr)));
    assertEquals(SIZE, Files.size(copy), getRun::toString);
    assertEquals(sha256(in), streamed);
    assertEquals(sha256(in), sha256(copy));
  }

  /** Tables through the launcher: its class path must carry Arrow and what Arrow needs at run time. */
  @Test
  void aCsvTableGoesInAndComesOutAsArrowAndCsvThroughTheLauncher() throws Exception {
    String csv = "user,item,amount\nu1,i1,1.5\nu2,i1,\nu1,i2,-3.25\n";
    Path in = Files.writeString(work.resolve("t.csv"), csv);
    Run put = succeeded(run("put", "--format", "csv", in.toString()));
    String id = put.lastLine();
    assertTrue(ID.matcher(id).matches(), put::toString);
    Run inspect = succeeded(run("inspect", id));
    assertTrue(inspect.stdout().contains("Table: 3 rows in 1 batches, 3 columns"), inspect::toString);
    assertTrue(inspect.stdout().contains("amount: FloatingPoint(DOUBLE)"), inspect::toString);
    assertEquals(csv, succeeded(run("get", id, "--format", "csv")).stdout());
    Path arrow = work.resolve("t.arrow");
    succeeded(run("get", id, "--format", "arrow", "-o", arrow.toString()));
    Run again = succeeded(run("put", "--format", "arrow", arrow.toString()));
    assertEquals(csv, succeeded(run("get", again.lastLine(), "--format", "csv")).stdout());
  }

  @Test
  void theSocketComesFromTheEnvironmentWhenNotGiven() throws Exception {
    Map<String, String> env = Map.of("VINEYARD_IPC_SOCKET", daemon.socket().toString());
    Path in = Files.write(work.resolve("env.bin"), "from the environment\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Run put = succeeded(run(env, null, "put", in.toString()));
    String id = put.lastLine();
    assertTrue(ID.matcher(id).matches(), put::toString);
    Run get = succeeded(run(env, null, "get", id));
    assertEquals("from the environment\n", get.stdout());
    Run ls = succeeded(run(env, null, "ls"));
    assertTrue(ls.stdout().contains(id), ls::toString);

    // --socket wins over the environment.
    Map<String, String> wrong = Map.of("VINEYARD_IPC_SOCKET", work.resolve("nobody.sock").toString());
    Run conflict = run(wrong, null, "--socket", daemon.socket().toString(), "get", id);
    assertEquals(0, conflict.code(), conflict::toString);
    assertEquals("from the environment\n", conflict.stdout());

    // And an environment naming no daemon fails to connect.
    Run none = run(wrong, null, "ls");
    assertEquals(ExitCodes.CANNOT_CONNECT, none.code(), none::toString);
    assertTrue(none.stderr().contains("nobody.sock"), none::toString);
  }

  @Test
  void exitCodesAndErrorsComeThroughTheLauncher() throws Exception {
    Run unknown = run("get", "o8000000000000001");
    assertEquals(ExitCodes.NOT_FOUND, unknown.code(), unknown::toString);
    assertEquals("", unknown.stdout(), unknown::toString);
    assertEquals("vineyardctl: object o8000000000000001 does not exist\n", unknown.stderr(), unknown::toString);

    Run unnamed = run("get", "no-such-name", "-o", work.resolve("never.bin").toString());
    assertEquals(ExitCodes.NOT_FOUND, unnamed.code(), unnamed::toString);
    assertFalse(Files.exists(work.resolve("never.bin")));

    Run usage = run("frobnicate");
    assertEquals(ExitCodes.INVALID_ARGUMENT, usage.code(), usage::toString);

    Run help = succeeded(run(Map.of(), null, "put", "--help"));
    assertTrue(help.stdout().contains("Examples"), help::toString);
  }

  @Test
  void rpcGoesToTheDaemonsGrpcPortAndFailsInOneLine() throws Exception {
    Path in = Files.write(work.resolve("rpc.bin"), new byte[] {1, 2, 3});
    String id = succeeded(run("put", in.toString(), "--name", "launcher-rpc")).lastLine();
    String rpc = daemon.info().rpcEndpoint();
    Run ls = succeeded(run(Map.of(), null, "--rpc", rpc, "ls"));
    assertTrue(ls.stdout().lines().anyMatch(l -> l.startsWith(id + " ") && l.endsWith("launcher-rpc")), ls::toString);

    // Nothing listening, or a host that does not resolve: one line on stderr (no library log), status 4.
    for (String nowhere : List.of("127.0.0.1:1", "nosuchhost.invalid:9600")) {
      Run r = run(Map.of(), null, "--rpc", nowhere, "ls");
      assertEquals(ExitCodes.CANNOT_CONNECT, r.code(), r::toString);
      assertEquals("", r.stdout(), r::toString);
      assertEquals(1, r.stderr().lines().count(), r::toString);
      assertTrue(r.stderr().startsWith("vineyardctl: ") && r.stderr().contains(nowhere), r::toString);
    }
  }
}
