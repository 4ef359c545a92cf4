package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One in-process run of {@code vineyardctl} through {@link Vineyardctl#run}: its exit status and
 * output, and the checks the CLI tests share.
 */
record CtlRun(int code, byte[] stdoutBytes, String stderr, List<String> args) {

  /** Runs exactly these arguments with {@code stdin} as standard input. */
  static CtlRun run(byte[] stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Vineyardctl.run(new ByteArrayInputStream(stdin), out, err, args);
    return new CtlRun(code, out.toByteArray(), err.toString(StandardCharsets.UTF_8), List.of(args));
  }

  String stdout() {
    return new String(stdoutBytes, StandardCharsets.UTF_8);
  }

  List<String> lines() {
    return stdout().lines().toList();
  }

  String lastLine() {
    List<String> l = lines();
    return l.isEmpty() ? "" : l.getLast();
  }

  /** Success: status 0 and nothing on stderr. */
  CtlRun ok() {
    assertEquals(0, code, this::toString);
    assertEquals("", stderr, this::toString);
    return this;
  }

  /** A failure: this exit status, nothing on stdout, one line on stderr without a stack trace. */
  CtlRun fails(int expected) {
    assertEquals(expected, code, this::toString);
    assertEquals(0, stdoutBytes.length, () -> "nothing on stdout on error: " + this);
    List<String> lines = stderr.lines().toList();
    assertEquals(1, lines.size(), () -> "exactly one line on stderr: " + this);
    assertTrue(lines.getFirst().startsWith("vineyardctl: "), this::toString);
    assertTrue(stderr.endsWith("\n"), this::toString);
    return this;
  }

  @Override
  public String toString() {
    return "vineyardctl " + String.join(" ", args) + " -> " + code + "\n--- stdout:\n"
        + (stdoutBytes.length > 4096 ? stdoutBytes.length + " bytes" : stdout()) + "\n--- stderr:\n" + stderr;
  }
}
