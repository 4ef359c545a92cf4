package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the launchers start: the JDK is found without starting extra JVMs, vineyardctl starts from the
 * AOT cache the build trains (and runs as well without a usable one), and a missing build is one
 * status for both launchers. Timings are in benchmarks/cli.sh, not here.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class StartupIT {

  @TempDir static Path daemonDir;
  @TempDir Path work;

  private static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws IOException {
    daemon = DaemonProcess.start(daemonDir, "32Mi");
  }

  @AfterAll
  static void stopDaemon() throws IOException {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static Path repo() {
    return Path.of(System.getProperty("user.dir")).getParent();
  }

  record Run(int code, String stdout, String stderr) {}

  private Run run(Path script, Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(script.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
    pb.environment().remove("VINEYARDCTL_JAVA_OPTS");
    pb.environment().remove("VINEYARDCTL_AOT_CACHE");
    pb.environment().putAll(env);
    Path out = Files.createTempFile(work, "out", ".txt");
    Path err = Files.createTempFile(work, "err", ".txt");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError(cmd + " did not finish in 60 s");
    }
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  private Run ctl(Map<String, String> env, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--socket", daemon.socket().toString()));
    all.addAll(List.of(args));
    return run(repo().resolve("bin/vineyardctl"), env, all.toArray(String[]::new));
  }

  @Test
  void theBuildTrainsAnAotCacheThatEveryCommandStartsFrom() throws Exception {
    assertTrue(Files.size(repo().resolve("vineyard-cli/target/vineyardctl.aot")) > 0);
    Path classes = work.resolve("classes.log");
    Run ls = ctl(Map.of("VINEYARDCTL_JAVA_OPTS", "-Xmx256m -Xlog:class+load=info:file=" + classes), "ls");
    assertEquals(0, ls.code(), ls::toString);
    assertEquals("", ls.stderr(), ls::toString);
    String log = Files.readString(classes);
    assertTrue(log.contains("io.vineyard.cli.Vineyardctl source: shared objects file"), "not from the cache:\n"
        + log.lines().filter(l -> l.contains("io.vineyard")).limit(5).toList());
    // The training ran whole commands against a daemon: what comes after the connection is cached too.
    assertTrue(log.contains("io.vineyard.internal.ReplyDemux source: shared objects file"), "reply handling not cached");
    // picocli's class files are rewritten by the build so that the cache can hold them linked.
    assertTrue(log.contains("picocli.CommandLine source: shared objects file"), "picocli not from the cache:\n"
        + log.lines().filter(l -> l.contains("picocli")).limit(5).toList());
    // ls connects for metadata only: no foreign function is linked (each costs milliseconds).
    assertFalse(log.contains("jdk.internal.foreign.abi.DowncallStub"), "ls linked a native downcall");
  }

  @Test
  void aMissingOrUnusableCacheOnlySlowsTheStartDown() throws Exception {
    Path garbage = Files.writeString(work.resolve("stale.aot"), "not an AOT cache");
    for (String cache : List.of(garbage.toString(), work.resolve("missing.aot").toString(), "")) {
      Run ls = ctl(Map.of("VINEYARDCTL_AOT_CACHE", cache), "ls");
      assertEquals(0, ls.code(), () -> cache + ": " + ls);
      assertEquals("", ls.stderr(), () -> cache + ": no warning: " + ls);
      assertTrue(ls.stdout().startsWith("ID "), () -> cache + ": " + ls);
    }
  }

  /** bin/java-env reads the JDK's release file: the only JVM a command starts is its own. */
  @Test
  void findingTheJdkStartsNoJvm() throws Exception {
    Path realHome = Path.of(System.getProperty("java.home"));
    Path fake = Files.createDirectories(work.resolve("jdk/bin"));
    Path starts = work.resolve("java-starts.txt");
    Path java = fake.resolve("java");
    Files.writeString(java, "#!/bin/sh\necho \"$*\" >> '" + starts + "'\nexec '" + realHome.resolve("bin/java") + "' \"$@\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.copy(realHome.resolve("bin/javac"), fake.resolve("javac"), StandardCopyOption.COPY_ATTRIBUTES); // only looked at
    Files.copy(realHome.resolve("release"), fake.getParent().resolve("release"));

    Run version = ctl(Map.of("JAVA_HOME", fake.getParent().toString()), "--version");
    assertEquals(0, version.code(), version::toString);
    assertTrue(version.stdout().startsWith("vineyardctl "), version::toString);
    List<String> launched = Files.readAllLines(starts);
    assertEquals(1, launched.size(), () -> "java started " + launched.size() + " times: " + launched);
    assertTrue(launched.getFirst().endsWith("io.vineyard.cli.Vineyardctl --socket " + daemon.socket() + " --version"),
        launched::toString);
  }

  /** Both launchers, in a checkout with nothing built, say so and exit with the same status. */
  @Test
  void bothLaunchersExitThreeWhenNotBuilt() throws Exception {
    Path bin = Files.createDirectories(work.resolve("checkout/bin"));
    for (String script : List.of("java-env", "vineyardd", "vineyardctl")) {
      Files.copy(repo().resolve("bin").resolve(script), bin.resolve(script), StandardCopyOption.COPY_ATTRIBUTES);
    }
    for (String launcher : List.of("vineyardd", "vineyardctl")) {
      Run r = run(bin.resolve(launcher), Map.of(), "--help");
      assertEquals(3, r.code(), () -> launcher + ": " + r);
      assertTrue(r.stderr().contains(launcher + " is not built"), () -> launcher + ": " + r);
    }
  }
}
