package io.vineyard.server.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import io.vineyard.server.store.BlobSpiller.Piece;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

        files.swapRun(inId, sizes[0], memory, List.of(new Piece(outId, 0, memory.byteSize())));

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
      assertThrows(IOException.class, () -> files.swapRun(1, spilled.length, memory, List.of(new Piece(2, 0, memory.byteSize()))));
      assertArrayEquals(resident, memory.toArray(ValueLayout.JAVA_BYTE));
      MemorySegment back = MemorySegment.ofArray(new byte[spilled.length]);
      files.read(1, back);
      assertArrayEquals(spilled, back.toArray(ValueLayout.JAVA_BYTE));
    }
  }

  /**
   * A window of several resident blobs (and free space) makes room for a spilled blob larger than
   * any of them: each goes into the spilled blob's file at its place; the file goes when the last
   * of them is loaded back or deleted.
   */
  @Test
  void aRunOfSeveralBlobsMakesRoomAndEachReadsBackFromTheSharedFile() throws IOException {
    try (SpillFiles files = SpillFiles.create(dir); Arena arena = Arena.ofConfined()) {
      int mib = 1 << 20;
      byte[] big = bytes(3 * mib, 7);
      files.write(1, MemorySegment.ofArray(big));
      MemorySegment window = arena.allocate(3 * mib);
      byte[][] small = {bytes(mib, 11), bytes(mib - 100, 12), bytes(mib / 2, 13)};
      long[] offsets = {0, mib, 2 * mib + mib / 4};
      List<Piece> pieces = new ArrayList<>();
      for (int k = 0; k < small.length; k++) {
        MemorySegment.copy(small[k], 0, window, ValueLayout.JAVA_BYTE, offsets[k], small[k].length);
        pieces.add(new Piece(10 + k, offsets[k], small[k].length));
      }

      files.swapRun(1, big.length, window, pieces);

      assertArrayEquals(big, window.toArray(ValueLayout.JAVA_BYTE), "loaded in place");
      for (int k = 0; k < small.length; k++) {
        MemorySegment back = MemorySegment.ofArray(new byte[small[k].length]);
        files.read(10 + k, back);
        assertArrayEquals(small[k], back.toArray(ValueLayout.JAVA_BYTE), "blob " + k + " from the shared file");
      }
      assertThrows(IOException.class, () -> files.read(1, MemorySegment.ofArray(new byte[big.length])));
      // A blob in a shared file exchanges again, in its own place, with one exactly as large.
      MemorySegment other = arena.allocate(small[0].length);
      byte[] third = bytes(small[0].length, 99);
      MemorySegment.copy(third, 0, other, ValueLayout.JAVA_BYTE, 0, third.length);
      files.swapRun(10, small[0].length, other, List.of(new Piece(20, 0, other.byteSize())));
      assertArrayEquals(small[0], other.toArray(ValueLayout.JAVA_BYTE));
      MemorySegment back = MemorySegment.ofArray(new byte[small[1].length]);
      files.read(11, back);
      assertArrayEquals(small[1], back.toArray(ValueLayout.JAVA_BYTE), "its neighbours untouched");
      try (var listing = java.nio.file.Files.list(files.directory())) {
        org.junit.jupiter.api.Assertions.assertEquals(1, listing.count(), "one file for them all");
      }
      for (long id : new long[] {11, 12, 20}) {
        files.delete(id);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (true) {
        try (var listing = java.nio.file.Files.list(files.directory())) {
          if (listing.count() == 0) {
            break;
          }
        }
        org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() < deadline, "the shared file is removed with its last blob");
        Thread.onSpinWait();
      }
    }
  }
}
