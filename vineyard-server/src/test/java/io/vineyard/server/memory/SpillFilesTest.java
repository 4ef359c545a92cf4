package io.vineyard.server.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Spill files on a real file system: the in-place exchange used when memory and disk are both full. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SpillFilesTest {

  @TempDir Path dir;

  private static byte[] bytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void swapExchangesASpilledBlobWithAResidentOneOfEqualOrLargerSize() throws IOException {
    try (SpillFiles files = SpillFiles.create(dir); Arena arena = Arena.ofConfined()) {
      for (int[] sizes : new int[][] {{5 << 20, 5 << 20}, {3 << 20, (9 << 20) + 77}, {0, 4096}}) {
        byte[] spilled = bytes(sizes[0], sizes[0]);
        byte[] resident = bytes(sizes[1], sizes[1] + 1);
        long inId = 1000 + sizes[0];
        long outId = 2000 + sizes[1];
        files.write(inId, MemorySegment.ofArray(spilled));
        MemorySegment memory = arena.allocate(sizes[1]);
        MemorySegment.copy(resident, 0, memory, ValueLayout.JAVA_BYTE, 0, resident.length);

        files.swap(inId, sizes[0], outId, memory);

        assertArrayEquals(spilled, memory.asSlice(0, sizes[0]).toArray(ValueLayout.JAVA_BYTE), "loaded in place");
        MemorySegment back = arena.allocate(Math.max(1, sizes[1])).asSlice(0, sizes[1]);
        files.read(outId, back);
        assertArrayEquals(resident, back.toArray(ValueLayout.JAVA_BYTE), "the resident blob is spilled whole");
        assertThrows(IOException.class, () -> files.read(inId, MemorySegment.ofArray(new byte[sizes[0]])),
            "the spilled blob's file is the other one's now");
      }
    }
  }

  @Test
  void aSmallerResidentBlobCannotMakeRoomAndNothingChanges() throws IOException {
    try (SpillFiles files = SpillFiles.create(dir)) {
      byte[] spilled = bytes(1 << 20, 1);
      files.write(1, MemorySegment.ofArray(spilled));
      byte[] resident = bytes(1 << 19, 2);
      MemorySegment memory = MemorySegment.ofArray(resident.clone());
      assertThrows(IOException.class, () -> files.swap(1, spilled.length, 2, memory));
      assertArrayEquals(resident, memory.toArray(ValueLayout.JAVA_BYTE));
      MemorySegment back = MemorySegment.ofArray(new byte[spilled.length]);
      files.read(1, back);
      assertArrayEquals(spilled, back.toArray(ValueLayout.JAVA_BYTE));
    }
  }
}
