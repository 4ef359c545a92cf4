package io.vineyard.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vineyard.client.IpcClient;
import org.apache.arrow.memory.BufferAllocator;

/** The checks a test ends with, so that a leak fails the test that caused it. */
public final class LeakChecks {

  private LeakChecks() {}

  /** Every {@code Blob} and {@code BlobWriter} this client handed out has been closed. */
  public static void assertNoOpenHandles(IpcClient client) {
    assertEquals(0, client.openHandleCount(), "blob handles left open");
  }

  /** Every Arrow buffer of this allocator has been released. */
  public static void assertNoArrowMemory(BufferAllocator allocator) {
    assertEquals(0, allocator.getAllocatedMemory(), "Arrow memory leaked");
  }
}
