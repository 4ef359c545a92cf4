package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ProgressTest {

  @Test
  void nothingIsDrawnOnceTheLineWasEndedAtExit() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    Progress p = new Progress(err, "put: storing values", 100L << 20, true);
    Thread.sleep(150); // the first bar waits for the redraw interval
    p.advance(20L << 20);
    p.endLine(); // what the shutdown hook does on Ctrl-C
    String atExit = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(atExit.endsWith("\n"), atExit);
    Thread.sleep(150); // past the redraw interval
    p.advance(20L << 20); // the command goes on until the JVM halts
    p.close();
    assertEquals(atExit, bytes.toString(StandardCharsets.UTF_8), "drawn over the ended line");
  }

  @Test
  void noRateIsShownUntilAnIntervalHasPassed() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    try (Progress p = new Progress(err, "get", 100L << 20, true)) {
      p.advance(1L << 20);
      String first = bytes.toString(StandardCharsets.UTF_8);
      assertTrue(first.contains("  1% 1.0 MiB of 100 MiB") && !first.contains("/s"), "a rate of one instant: " + first);
      Thread.sleep(150);
      p.advance(19L << 20);
      String drawn = bytes.toString(StandardCharsets.UTF_8);
      assertTrue(drawn.contains(" 20% 20.0 MiB of 100 MiB, "), drawn);
      // 20 MiB over at least 150 ms: at most ~133 MiB/s, never the GiB/s (or more) of a first instant.
      assertFalse(drawn.contains("GiB/s") || drawn.contains("TiB/s"), drawn);
    }
  }

  @Test
  void aStageThatEndsIsDrawnCompleteOnALineOfItsOwn() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    try (Progress p = new Progress(err, "put: reading types", 100L << 20, true)) {
      Thread.sleep(150);
      p.reached(60L << 20); // the last report of the first pass came before its end
      p.stage("put: storing values", 100L << 20);
      String afterFirst = bytes.toString(StandardCharsets.UTF_8);
      String last = afterFirst.substring(afterFirst.lastIndexOf('\r') + 1);
      assertTrue(last.startsWith("put: reading types [") && last.contains("100% 100 MiB of 100 MiB"), afterFirst);
      assertTrue(afterFirst.endsWith("\n"), "the next stage starts on a line of its own: " + afterFirst);
      Thread.sleep(150);
      p.reached(10L << 20);
      String all = bytes.toString(StandardCharsets.UTF_8);
      assertTrue(all.substring(afterFirst.length()).contains("put: storing values [") && all.contains(" 10% "), all);
    }
  }
}
