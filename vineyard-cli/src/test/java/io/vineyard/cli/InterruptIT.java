package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code vineyardctl} in a process of its own, stopped by a signal while it draws progress on a terminal. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class InterruptIT {

  @TempDir static Path daemonDir;

  private static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws IOException {
    daemon = DaemonProcess.start(daemonDir, "256Mi");
  }

  @AfterAll
  static void stopDaemon() throws IOException {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void ctrlCEndsTheProgressLine() throws Throwable {
    try (Pty pty = new Pty()) {
      ProcessBuilder pb = new ProcessBuilder(ChildJvm.command(List.of(), Vineyardctl.class,
          List.of("--socket", daemon.socket().toString(), "put", "-")));
      pb.redirectError(new File(pty.terminal));
      pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
      Process p = pb.start();
      ByteArrayOutputStream seen = new ByteArrayOutputStream();
      CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
        try {
          pty.readUntilClosed(seen);
        } catch (Throwable e) {
          throw new IllegalStateException(e);
        }
      });
      try {
        // 20 MiB of input, and the input left open: the count stays on the screen, mid-line.
        OutputStream in = p.getOutputStream();
        in.write(new byte[20 << 20]);
        in.flush();
        Poll.until(Duration.ofSeconds(60), Duration.ofMillis(50), "the progress line on the terminal", () -> text(seen).contains("reading stdin"));
        Process kill = new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -INT failed");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "vineyardctl did not stop on SIGINT");
        reader.get(30, TimeUnit.SECONDS);
        String drawn = text(seen);
        assertTrue(drawn.endsWith("\n"), () -> "the line is ended: " + drawn.replace("\r", "\\r").replace("\033", "\\e"));
      } finally {
        p.destroyForcibly();
      }
    }
  }

  private static String text(ByteArrayOutputStream out) {
    synchronized (out) {
      return out.toString(StandardCharsets.UTF_8);
    }
  }
}
