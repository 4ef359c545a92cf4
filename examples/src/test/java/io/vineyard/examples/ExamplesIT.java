package io.vineyard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The README's examples, each in a JVM of its own, as an application runs them, against a real daemon. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ExamplesIT {

  @TempDir static Path daemonDir;
  @TempDir Path work;

  private static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws IOException {
    daemon = DaemonProcess.start(daemonDir, "64Mi");
  }

  @AfterAll
  static void stopDaemon() throws IOException {
    if (daemon != null) {
      daemon.close();
    }
  }

  private ChildJvm.Result example(Class<?> main, String... args) throws Exception {
    List<String> all = new java.util.ArrayList<>(List.of(daemon.socket().toString()));
    all.addAll(List.of(args));
    ChildJvm.Result r = ChildJvm.run(work.resolve(main.getSimpleName() + ".log"), 60, main, all.toArray(String[]::new));
    assertEquals(0, r.exitCode(), r.output());
    // One logging backend, the flags the README gives: nothing to warn about.
    assertFalse(r.output().contains("SLF4J"), r.output());
    assertFalse(r.output().contains("WARNING"), r.output());
    return r;
  }

  @Test
  void aTensorWrittenInOneProcessIsReadInAnother() throws Exception {
    ChildJvm.Result write = example(WriteTensor.class, "1000");
    ObjectId id = ObjectId.parse(write.output().strip().lines().toList().getLast());
    try (IpcClient c = daemon.connect()) {
      assertEquals(id, c.getName("features"));
    }
    ChildJvm.Result read = example(ReadTensor.class);
    assertEquals("1000 values, sum 249750.0", read.output().strip()); // 0 + 0.5 + ... + 499.5
  }

  @Test
  void aDataFrameIsStoredOpenedAndMadeIntoAGraph() throws Exception {
    ChildJvm.Result r = example(PurchasesGraph.class);
    List<String> lines = r.output().strip().lines().toList();
    assertEquals(2, lines.size(), r.output());
    assertTrue(lines.get(0).startsWith("3 purchases: Schema<user: Utf8, item: Utf8, amount: FloatingPoint(DOUBLE)"),
        r.output());
    assertEquals("4 vertices, 3 edges", lines.get(1));
  }

  @Test
  void aMissingOrBadArgumentGetsTheUsageLine() throws Exception {
    for (List<String> args : List.of(List.<String>of(), List.of("/tmp/x.sock", "ten"), List.of("/tmp/x.sock", "1", "2"))) {
      ChildJvm.Result r = ChildJvm.run(work.resolve("usage.log"), 60, WriteTensor.class, args.toArray(String[]::new));
      assertEquals(2, r.exitCode(), r.output());
      assertEquals("usage: WriteTensor SOCKET [N]", r.output().strip(), r.output());
    }
    ChildJvm.Result r = ChildJvm.run(work.resolve("usage.log"), 60, ReadTensor.class);
    assertEquals(2, r.exitCode(), r.output());
    assertEquals("usage: ReadTensor SOCKET", r.output().strip(), r.output());
  }
}
