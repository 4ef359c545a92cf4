package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Text other clients chose (type names, field names and values) never reaches the terminal raw. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class TerminalSafetyIT {

  @TempDir static Path work;
  static DaemonProcess daemon;
  static ObjectId evil;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(work, "16Mi");
    try (IpcClient c = daemon.connect()) {
      evil = c.putMeta(ObjectMeta.builder("evil\u001b[2J\nforged line")
          .field("k\u001b]0;title\u0007", "v\nforged\u009b31m")
          .build());
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static CtlRun ctl(String... args) {
    List<String> all = new ArrayList<>(List.of("--socket", daemon.socket().toString()));
    all.addAll(List.of(args));
    return CtlRun.run(new byte[0], all.toArray(String[]::new));
  }

  private static void assertSafe(CtlRun r) {
    String out = r.stdout() + r.stderr();
    assertFalse(out.chars().anyMatch(c -> c == 0x1b || c == 0x07 || (c >= 0x80 && c <= 0x9f)), "raw control characters in:\n" + out);
    assertFalse(out.lines().anyMatch(l -> l.startsWith("forged")), "a forged line in:\n" + out);
  }

  @Test
  void lsAndInspectPrintOtherPeoplesTextEscaped() {
    CtlRun ls = ctl("ls");
    assertSafe(ls);
    assertTrue(ls.stdout().contains("evil\\x1b[2J\\nforged line"), ls.stdout());
    CtlRun inspect = ctl("inspect", evil.toString());
    assertSafe(inspect);
    assertTrue(inspect.stdout().contains("k\\x1b]0;title\\x07"), inspect.stdout());
    assertSafe(ctl("ls", "--output", "json"));
    assertSafe(ctl("inspect", evil.toString(), "--output", "json"));
  }

  /** Runs vineyardctl in its own process with standard output on the terminal {@code pty}. */
  private static ChildJvm.Result onTerminal(Pty pty, Path err, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--socket", daemon.socket().toString()));
    all.addAll(List.of(args));
    Process p = new ProcessBuilder(ChildJvm.command(List.of(), Vineyardctl.class, all))
        .redirectOutput(new File(pty.terminal)).redirectError(err.toFile()).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vineyardctl " + all + " did not finish");
    return new ChildJvm.Result(p.exitValue(), Files.readString(err));
  }

  @Test
  void getWritesBinaryToATerminalOnlyWhenAskedTo() throws Throwable {
    // No newline in it: the terminal would turn one into CR LF.
    byte[] bytes = "\u001b]0;owned\u0007\u001b[2J binary from another client".getBytes(StandardCharsets.ISO_8859_1);
    ObjectId blob;
    try (IpcClient c = daemon.connect()) {
      blob = c.putBlob(bytes);
    }
    try (Pty pty = new Pty()) {
      ChildJvm.Result refused = onTerminal(pty, work.resolve("refused.err"), "get", blob.toString());
      assertEquals(ExitCodes.INVALID_ARGUMENT, refused.exitCode(), refused.output());
      assertTrue(refused.output().contains("standard output is a terminal") && refused.output().contains("-o -"),
          refused.output());
      ChildJvm.Result forced = onTerminal(pty, work.resolve("forced.err"), "get", blob.toString(), "-o", "-");
      assertEquals(0, forced.exitCode(), forced.output());
      // The first bytes on the terminal are the forced run's: the refused one wrote nothing there.
      assertArrayEquals(bytes, pty.read(bytes.length));
    }
  }

  @Test
  void csvOnATerminalShowsOtherPeoplesControlCharactersEscaped() throws Throwable {
    Path csv = work.resolve("evil.csv");
    Files.writeString(csv, "name,n\n\"a\u001b]0;owned\u0007b\",1\n");
    ctl("put", "--format", "csv", csv.toString(), "--name", "evil-table").ok();
    try (Pty pty = new Pty()) {
      ChildJvm.Result r = onTerminal(pty, work.resolve("csv.err"), "get", "evil-table", "--format", "csv");
      assertEquals(0, r.exitCode(), r.output());
      java.io.ByteArrayOutputStream seen = new java.io.ByteArrayOutputStream();
      pty.readUntilClosed(seen); // the child has exited: what it wrote, then end of input
      String shown = seen.toString(StandardCharsets.UTF_8);
      assertFalse(shown.chars().anyMatch(c -> c == 0x1b || c == 0x07), "raw control characters on the terminal:\n" + shown);
      assertTrue(shown.contains("a\\x1b]0;owned\\x07b"), shown);
      assertTrue(shown.startsWith("name,n"), shown);
    }
  }
}
