package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressTest {

  @Test
  void nothingIsDrawnOnceTheLineWasEndedAtExit() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    Progress p = new Progress(err, "put: storing values", 100L << 20, true);
    p.advance(20L << 20);
    p.endLine(); // what the shutdown hook does on Ctrl-C
    String atExit = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(atExit.endsWith("\n"), atExit);
    Thread.sleep(150); // past the redraw interval
    p.advance(20L << 20); // the command goes on until the JVM halts
    p.close();
    assertEquals(atExit, bytes.toString(StandardCharsets.UTF_8), "drawn over the ended line");
  }
}
