package io.vineyard.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StagingPoolTest {

  @Test
  void aBufferFitsItsSizeInAPowerOfTwoAndIsAligned() {
    StagingPool pool = new StagingPool();
    assertEquals(64, pool.take(1).byteSize());
    assertEquals(4096, pool.take(4096).byteSize());
    assertEquals(8192, pool.take(4097).byteSize());
    assertEquals(IpcClient.INLINE_LIMIT, pool.take(IpcClient.INLINE_LIMIT).byteSize());
    assertEquals(0, pool.take(100).address() % 64);
    assertThrows(IllegalArgumentException.class, () -> pool.take(0));
    assertThrows(IllegalArgumentException.class, () -> pool.take(IpcClient.INLINE_LIMIT + 1));
  }

  @Test
  void aReusedBufferComesBackZeroFilled() {
    StagingPool pool = new StagingPool();
    MemorySegment b = pool.take(4000);
    b.fill((byte) 0x5a);
    long address = b.address();
    pool.give(b);
    MemorySegment again = pool.take(3000);
    assertEquals(address, again.address(), "the same buffer, reused");
    for (long i = 0; i < again.byteSize(); i++) {
      assertEquals(0, again.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
    }
  }

  @Test
  void onlyAFewFreeBuffersAreKept() {
    StagingPool pool = new StagingPool();
    List<MemorySegment> taken = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      taken.add(pool.take(4096));
    }
    Set<Long> before = new HashSet<>();
    taken.forEach(b -> before.add(b.address()));
    taken.forEach(pool::give);
    Set<Long> reused = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      MemorySegment b = pool.take(4096);
      if (before.contains(b.address())) {
        reused.add(b.address());
      }
    }
    // 256 KiB worth of 4 KiB buffers are kept; the rest were left to the GC.
    assertEquals(64, reused.size());
  }
}
