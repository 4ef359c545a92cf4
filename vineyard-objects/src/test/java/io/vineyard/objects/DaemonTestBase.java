package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vineyard.client.IpcClient;
import io.vineyard.server.testing.DaemonProcess;
import java.nio.file.Path;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real daemon in its own JVM for each test class, a client and an allocator for each test, and
 * the leak checks every test ends with: no blob handle left open, no Arrow memory left allocated.
 */
abstract class DaemonTestBase {

  @TempDir static Path dir;
  static DaemonProcess daemon;
  IpcClient client;
  BufferAllocator allocator;

  /** 3 GiB of address space; tmpfs pages are only used as they are written. */
  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(dir, "3g");
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    daemon.close();
  }

  @BeforeEach
  void connect() {
    client = daemon.connect();
    allocator = new RootAllocator();
  }

  @AfterEach
  void checkLeaks() {
    assertEquals(0, client.openHandleCount(), "blob handles left open");
    client.close();
    assertEquals(0, allocator.getAllocatedMemory(), "Arrow memory leaked");
    allocator.close();
  }
}
