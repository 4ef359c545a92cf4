package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.Libc;
import io.vineyard.testing.DaemonProcess;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code get} into what is not a regular file: a terminal, a FIFO, a device. The daemon's region is
 * 3 GiB (sparse, never written but for the small blobs), so that a blob can sit past its first 2 GiB.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class GetDestinationsIT {

  @TempDir static Path daemonDir;
  @TempDir Path work;

  private static DaemonProcess daemon;
  private static String sock;

  @BeforeAll
  static void startDaemon() throws IOException {
    daemon = DaemonProcess.start(daemonDir, "3Gi");
    sock = daemon.socket().toString();
  }

  @AfterAll
  static void stopDaemon() throws IOException {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static CtlRun ctl(String... args) {
    List<String> all = new java.util.ArrayList<>(List.of("--socket", sock));
    all.addAll(List.of(args));
    return CtlRun.run(new byte[0], all.toArray(String[]::new));
  }

  private String put(byte[] content, String... extra) throws IOException {
    Path f = Files.write(work.resolve("in-" + System.nanoTime()), content);
    List<String> args = new java.util.ArrayList<>(List.of("put", f.toString()));
    args.addAll(List.of(extra));
    return ctl(args.toArray(String[]::new)).ok().lastLine();
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", command) + " failed");
  }

  /** A device, FIFO or socket, following links. */
  private static boolean isOther(Path p) throws IOException {
    return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class).isOther();
  }

  @Test
  void getOfABlobPastTheFirstTwoGibibytesToATerminalWritesItsBytes() throws Throwable {
    byte[] content = "hello-terminal".getBytes(StandardCharsets.US_ASCII);
    String id;
    // A 2 GiB blob, never written (so never backed by memory), pushes the next one past the 2 GiB mark.
    try (IpcClient c = daemon.connect(); BlobWriter filler = c.createBlob(2L << 30)) {
      assertEquals(2L << 30, filler.size());
      id = put(content);
      try (Pty pty = new Pty()) {
        int fd = Libc.openFile(pty.terminal, Libc.O_WRONLY | 0400 /* O_NOCTTY */, 0);
        try (FileChannel raw = FileChannel.open(Path.of(pty.terminal), StandardOpenOption.WRITE)) {
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          ByteArrayOutputStream err = new ByteArrayOutputStream();
          PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
          int code = Vineyardctl.run(new ByteArrayInputStream(new byte[0]), o, new PrintStream(err, true, StandardCharsets.UTF_8),
              raw, fd, false, "--socket", sock, "get", id, "-o", "-");
          assertEquals(0, code, () -> err.toString(StandardCharsets.UTF_8));
          assertEquals("", err.toString(StandardCharsets.UTF_8));
          assertArrayEquals(content, pty.read(content.length));
        } finally {
          Libc.closeQuietly(fd);
        }
      }
    }
  }

  @Test
  void getIntoAFifoWritesIntoItAndLeavesItAFifo() throws Exception {
    byte[] content = new byte[300_000];
    new java.util.Random(7).nextBytes(content);
    String blob = put(content);
    Path fifo = work.resolve("fifo");
    run("mkfifo", fifo.toString());
    CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() -> {
      try {
        return Files.readAllBytes(fifo);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    try {
      ctl("get", blob, "-o", fifo.toString()).ok();
      assertArrayEquals(content, reader.get(20, TimeUnit.SECONDS));
      assertTrue(isOther(fifo) && !Files.isRegularFile(fifo, LinkOption.NOFOLLOW_LINKS), "still a FIFO");
    } finally {
      if (!reader.isDone()) {
        Files.write(fifo, new byte[0]); // lets the reader go
      }
    }
  }

  @Test
  void getOfATableAsCsvIntoAFifoWritesIntoIt() throws Exception {
    Path csv = Files.writeString(work.resolve("t.csv"), "a,b\n1,x\n2,y\n");
    String table = ctl("put", "--format", "csv", csv.toString()).ok().lastLine();
    Path fifo = work.resolve("fifo-csv");
    run("mkfifo", fifo.toString());
    CompletableFuture<String> reader = CompletableFuture.supplyAsync(() -> {
      try {
        return Files.readString(fifo);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    try {
      ctl("get", table, "--format", "csv", "-o", fifo.toString()).ok();
      assertEquals("a,b\n1,x\n2,y\n", reader.get(20, TimeUnit.SECONDS));
      assertTrue(isOther(fifo), "still a FIFO");
    } finally {
      if (!reader.isDone()) {
        Files.write(fifo, new byte[0]);
      }
    }
  }

  @Test
  void getIntoDevicesWritesIntoThemAndReportsTheirErrors() throws Exception {
    assumeTrue("0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).trim()),
        "creating device nodes needs root");
    Path devNull = work.resolve("null");
    Path devFull = work.resolve("full");
    run("mknod", devNull.toString(), "c", "1", "3");
    run("mknod", devFull.toString(), "c", "1", "7");
    String blob = put(new byte[100_000]);

    ctl("get", blob, "-o", devNull.toString()).ok();
    assertTrue(isOther(devNull), "still a device");

    CtlRun full = ctl("get", blob, "-o", devFull.toString()).fails(ExitCodes.OTHER);
    assertTrue(full.stderr().contains("No space left on device"), full::toString);
    assertTrue(isOther(devFull), "still a device");
    try (var s = Files.list(work)) {
      assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".partial")), "no temporary file left");
    }
  }
}
