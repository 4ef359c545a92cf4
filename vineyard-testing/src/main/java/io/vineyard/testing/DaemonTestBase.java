package io.vineyard.testing;

import io.vineyard.client.IpcClient;
import java.nio.file.Path;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base for test classes: a real daemon in its own JVM for each test class, a client and an
 * allocator for each test, and the leak checks every test ends with: no blob handle left open, no
 * Arrow memory left allocated. Needs {@code arrow-memory-unsafe} (or netty) and
 * {@code vineyard-server} on the test class path.
 */
public abstract class DaemonTestBase {

  /** The test class's temporary directory; the daemon's socket and log are in it. */
  @TempDir protected static Path dir;

  protected static DaemonProcess daemon;
  protected IpcClient client;
  protected BufferAllocator allocator;

  /** 3 GiB of address space; tmpfs pages are only used as they are written. */
  @BeforeAll
  protected static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(dir, "3g");
  }

  @AfterAll
  protected static void stopDaemon() throws Exception {
    daemon.close();
  }

  @BeforeEach
  protected void connect() {
    client = daemon.connect();
    allocator = new RootAllocator();
  }

  @AfterEach
  protected void checkLeaks() {
    LeakChecks.assertNoOpenHandles(client);
    client.close();
    LeakChecks.assertNoArrowMemory(allocator);
    allocator.close();
  }
}
