package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.StoreStats;
import io.vineyard.client.IpcClient;
import io.vineyard.server.testing.ClientPrograms;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Sharing between processes: a daemon, writers and readers each in its own JVM. */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class CrossProcessIT {

  @TempDir static Path work;
  static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(work, "512Mi");
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void putInOneProcessGetInAnotherMapsTheSamePagesReadOnly() throws Exception {
    long size = 64L << 20;
    ChildJvm.Result w =
        ChildJvm.run(work.resolve("writer.log"), 120, ClientPrograms.Writer.class,
            daemon.socket().toString(), Long.toString(size), "42", "shared-64m");
    assertEquals(0, w.exitCode(), w.output());
    ObjectId id = ObjectId.parse(line(w.output(), "ID ").substring(3));

    ChildJvm.Result r =
        ChildJvm.run(work.resolve("reader.log"), 120, ClientPrograms.Reader.class,
            daemon.socket().toString(), "shared-64m", "42");
    assertEquals(0, r.exitCode(), r.output());
    assertTrue(r.output().contains("\nOK") || r.output().startsWith("OK"), r.output());
    assertEquals("SIZE " + size, line(r.output(), "SIZE "));
    // Zero-copy evidence: the reader's view lies inside its mapping of the daemon's shared-memory
    // file, mapped shared and read-only ("r--s"), not in a private copy.
    String mapping = line(r.output(), "MAPPING ");
    assertTrue(mapping.contains(" r--s "), mapping);
    assertTrue(mapping.contains(daemon.shmDir().toString()) && mapping.endsWith("/region-0"), mapping);

    try (IpcClient c = daemon.connect()) {
      c.delete(List.of(id), false, false);
    }
  }

  @Test
  void clientKilledMidCreateFreesItsSpace() throws Exception {
    long size = 128L << 20;
    long usedBefore;
    try (IpcClient c = daemon.connect()) {
      usedBefore = c.stats().usedBytes();
    }
    Path log = work.resolve("hang.log");
    Process p =
        ChildJvm.start(log, List.of(), ClientPrograms.CreateAndHang.class, daemon.socket().toString(), Long.toString(size));
    try {
      awaitLine(log, "CREATED ", p);
      try (IpcClient c = daemon.connect()) {
        StoreStats s = c.stats();
        assertTrue(s.usedBytes() >= usedBefore + size, s.toString());
        assertEquals(1, s.unsealedBlobCount());
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        StoreStats after = awaitStats(c, st -> st.unsealedBlobCount() == 0 && st.usedBytes() == usedBefore);
        assertEquals(usedBefore, after.usedBytes());
        assertEquals(0, after.unsealedBlobCount());
      }
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void readerKilledWhileHoldingAPinReleasesIt() throws Exception {
    ObjectId id;
    try (IpcClient c = daemon.connect()) {
      id = c.putBlob(new byte[4096]);
      c.putName("pinned-by-child", id);
    }
    Path log = work.resolve("pin.log");
    Process p = ChildJvm.start(log, List.of(), ClientPrograms.PinAndHang.class, daemon.socket().toString(), "pinned-by-child");
    try (IpcClient c = daemon.connect()) {
      awaitLine(log, "PINNED ", p);
      assertEquals(1, c.stats().pinnedBlobCount());
      // Deleting now is deferred: the child still holds the blob.
      c.delete(id);
      assertTrue(c.stats().usedBytes() > 0);
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      StoreStats after = awaitStats(c, st -> st.pinnedBlobCount() == 0 && st.blobCount() == 0);
      assertEquals(0, after.usedBytes());
    } finally {
      p.destroyForcibly();
    }
  }

  private static String line(String output, String prefix) {
    return output.lines().filter(l -> l.startsWith(prefix)).findFirst()
        .orElseThrow(() -> new AssertionError("no line starting with '" + prefix + "' in:\n" + output));
  }

  private static void awaitLine(Path log, String prefix, Process p) throws Exception {
    Poll.until(Duration.ofSeconds(60), Duration.ofMillis(50), "the child to print " + prefix, () -> {
      if (Files.exists(log) && Files.readString(log).lines().anyMatch(l -> l.startsWith(prefix))) {
        return true;
      }
      if (!p.isAlive()) {
        throw new AssertionError("child exited early:\n" + Files.readString(log));
      }
      return false;
    });
  }

  private static StoreStats awaitStats(IpcClient c, Predicate<StoreStats> done) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    StoreStats s = c.stats();
    while (!done.test(s) && System.nanoTime() < deadline) {
      Thread.sleep(50);
      s = c.stats();
    }
    return s;
  }
}
