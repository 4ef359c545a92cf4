package io.vineyard.server.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BlobAllocatorTest {

  private static final long A = BlobAllocator.ALIGNMENT;

  private static void assertAccounting(BlobAllocator a, long used) {
    assertEquals(used, a.used(), "used");
    assertEquals(a.capacity() - used, a.free(), "free");
  }

  @Test
  void alignmentIs64AndFootprintsRoundUp() {
    assertEquals(64, A);
    assertEquals(64, BlobAllocator.footprint(0), "an empty request still takes one unit");
    assertEquals(64, BlobAllocator.footprint(1));
    assertEquals(64, BlobAllocator.footprint(64));
    assertEquals(128, BlobAllocator.footprint(65));
    assertEquals(1 << 20, BlobAllocator.footprint(1 << 20));
    assertEquals((1 << 20) + 64, BlobAllocator.footprint((1 << 20) + 1));
  }

  @Test
  void capacityIsRoundedDownToTheAlignment() {
    assertEquals(960, new BlobAllocator(1000).capacity());
    assertEquals(0, new BlobAllocator(63).capacity());
    assertEquals(1 << 20, new BlobAllocator(1 << 20).capacity());
    assertThrows(IllegalArgumentException.class, () -> new BlobAllocator(-1));
    BlobAllocator empty = new BlobAllocator(0);
    assertEquals(-1, empty.allocate(0));
    assertEquals(0, empty.largestFree());
    assertEquals(0, empty.freeRangeCount());
  }

  @Test
  void everyOffsetIsAlignedAndRangesAreContiguous() {
    BlobAllocator a = new BlobAllocator(1 << 20);
    long expectedOffset = 0;
    long used = 0;
    for (long size : new long[] {1, 63, 64, 65, 100, 0, 4096, 4097, 7, 1000}) {
      long off = a.allocate(size);
      assertEquals(0, off % A, "offset " + off + " for size " + size);
      assertEquals(expectedOffset, off, "a fresh arena is carved from the front");
      expectedOffset += BlobAllocator.footprint(size);
      used += BlobAllocator.footprint(size);
      assertAccounting(a, used);
    }
    assertEquals(1, a.freeRangeCount());
    assertEquals(a.capacity() - used, a.largestFree());
  }

  @Test
  void aFreedRangeIsReused() {
    BlobAllocator a = new BlobAllocator(1 << 20);
    long x = a.allocate(1000);
    long y = a.allocate(1000);
    long z = a.allocate(1000);
    a.free(y, 1000);
    assertEquals(2, a.freeRangeCount());
    assertEquals(y, a.allocate(1000), "the freed hole fits exactly and is reused");
    assertEquals(1, a.freeRangeCount());
    a.free(x, 1000);
    assertEquals(x, a.allocate(990), "a request with the same footprint reuses the hole too");
    a.free(z, 1000);
    assertEquals(1, a.freeRangeCount(), "z merged with the free tail");
    assertEquals(z, a.allocate(10), "allocation takes the front of the range");
  }

  @Test
  void bestFitPrefersTheSmallestHoleThatFits() {
    BlobAllocator a = new BlobAllocator(64 * A);
    long[] off = new long[8];
    long[] sizes = {4 * A, A, 2 * A, A, 3 * A, A, 2 * A, A};
    for (int i = 0; i < sizes.length; i++) {
      off[i] = a.allocate(sizes[i]);
    }
    // Holes of 4, 2, 3 and 2 units, separated by live 1-unit blocks; the tail stays free (49 units).
    a.free(off[0], sizes[0]);
    a.free(off[2], sizes[2]);
    a.free(off[4], sizes[4]);
    a.free(off[6], sizes[6]);
    assertEquals(5, a.freeRangeCount());
    assertEquals(off[2], a.allocate(2 * A), "smallest fitting hole; the lower offset among equals");
    assertEquals(off[6], a.allocate(2 * A));
    assertEquals(off[4], a.allocate(3 * A));
    assertEquals(off[0], a.allocate(A), "3-unit hole gone, 4-unit hole is the best fit");
    assertEquals(off[0] + A, a.allocate(3 * A), "the rest of the split hole");
    assertEquals(1, a.freeRangeCount());
  }

  @Test
  void neighboursCoalesceWhateverTheOrderOfFrees() {
    long size = 1000;
    long fp = BlobAllocator.footprint(size);
    int[][] orders = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int[] order : orders) {
      String which = java.util.Arrays.toString(order);
      // Three blocks that fill the arena exactly, so no free tail helps the merging.
      BlobAllocator a = new BlobAllocator(3 * fp);
      long[] off = {a.allocate(size), a.allocate(size), a.allocate(size)};
      assertEquals(0, a.freeRangeCount(), which);
      assertEquals(0, a.largestFree(), which);
      assertEquals(-1, a.allocate(1), which);
      long used = 3 * fp;
      for (int i : order) {
        a.free(off[i], size);
        used -= fp;
        assertAccounting(a, used);
      }
      assertEquals(1, a.freeRangeCount(), which);
      assertEquals(a.capacity(), a.largestFree(), which);
      assertEquals(0, a.allocate(a.capacity()), "the whole arena is one range again after " + which);
    }
  }

  @Test
  void coalescingAlsoMergesWithTheFreeTail() {
    BlobAllocator a = new BlobAllocator(100 * A);
    long x = a.allocate(10 * A);
    long y = a.allocate(10 * A);
    assertEquals(1, a.freeRangeCount());
    a.free(y, 10 * A);
    assertEquals(1, a.freeRangeCount(), "y merges with the tail");
    assertEquals(90 * A, a.largestFree());
    a.free(x, 10 * A);
    assertEquals(1, a.freeRangeCount());
    assertEquals(100 * A, a.largestFree());
  }

  @Test
  void fragmentationBlocksLargeRequestsUntilNeighboursAreFreed() {
    int blocks = 16;
    BlobAllocator a = new BlobAllocator(blocks * 4 * A);
    long[] off = new long[blocks];
    for (int i = 0; i < blocks; i++) {
      off[i] = a.allocate(4 * A);
    }
    assertEquals(-1, a.allocate(1));
    for (int i = 0; i < blocks; i += 2) {
      a.free(off[i], 4 * A);
    }
    assertEquals(blocks / 2, a.freeRangeCount());
    assertEquals(blocks / 2 * 4 * A, a.free(), "half the arena is free");
    assertEquals(4 * A, a.largestFree());
    assertEquals(-1, a.allocate(4 * A + 1), "but no single range is big enough");
    assertEquals(-1, a.allocate(8 * A));
    assertAccounting(a, blocks / 2 * 4 * A);

    for (int i = 1; i < blocks; i += 2) {
      a.free(off[i], 4 * A);
    }
    assertEquals(1, a.freeRangeCount());
    assertEquals(0, a.allocate(blocks * 4 * A), "after freeing the rest the large request fits");
    assertAccounting(a, a.capacity());
  }

  @Test
  void exhaustionReturnsMinusOneAndKeepsAccountingExact() {
    BlobAllocator a = new BlobAllocator(10 * A + 17); // capacity 640
    assertEquals(10 * A, a.capacity());
    assertEquals(-1, a.allocate(a.capacity() + 1));
    assertEquals(-1, a.allocate(Long.MAX_VALUE));
    assertAccounting(a, 0);
    List<Long> offs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      long off = a.allocate(1);
      assertNotEquals(-1, off);
      offs.add(off);
    }
    assertAccounting(a, 10 * A);
    assertEquals(0, a.largestFree());
    assertEquals(0, a.freeRangeCount());
    assertEquals(-1, a.allocate(0));
    assertEquals(-1, a.allocate(1));
    assertAccounting(a, 10 * A);
    a.free(offs.get(3), 1);
    assertAccounting(a, 9 * A);
    assertEquals(-1, a.allocate(A + 1));
    assertAccounting(a, 9 * A);
    assertEquals(offs.get(3), a.allocate(A));
    assertAccounting(a, 10 * A);
  }

  @Test
  void negativeSizesAreRejected() {
    BlobAllocator a = new BlobAllocator(1 << 20);
    assertThrows(IllegalArgumentException.class, () -> a.allocate(-1));
    assertAccounting(a, 0);
  }

  @Test
  void doubleFreeIsDetectedAndChangesNothing() {
    BlobAllocator a = new BlobAllocator(100 * A);
    long x = a.allocate(2 * A);
    long y = a.allocate(2 * A);
    long z = a.allocate(2 * A);
    a.free(y, 2 * A);
    long used = a.used();
    int ranges = a.freeRangeCount();
    assertThrows(IllegalStateException.class, () -> a.free(y, 2 * A), "exact double free");
    assertThrows(IllegalStateException.class, () -> a.free(y + A, A), "inside a free range");
    assertThrows(IllegalStateException.class, () -> a.free(x, 3 * A), "running into a free range");
    assertThrows(IllegalStateException.class, () -> a.free(z + 2 * A, A), "the free tail");
    assertEquals(used, a.used());
    assertEquals(ranges, a.freeRangeCount());
    a.free(x, 2 * A);
    a.free(z, 2 * A);
    assertThrows(IllegalStateException.class, () -> a.free(x, 2 * A), "double free after coalescing");
    assertThrows(IllegalStateException.class, () -> a.free(z, 2 * A));
    assertAccounting(a, 0);
    assertEquals(1, a.freeRangeCount());
  }

  @Test
  void freeOfARangeOutsideTheArenaIsRejected() {
    BlobAllocator a = new BlobAllocator(10 * A);
    long x = a.allocate(A);
    assertThrows(IllegalArgumentException.class, () -> a.free(-A, A));
    assertThrows(IllegalArgumentException.class, () -> a.free(x + 1, A), "misaligned");
    assertThrows(IllegalArgumentException.class, () -> a.free(10 * A, 1), "past the end");
    assertThrows(IllegalArgumentException.class, () -> a.free(9 * A, A + 1), "running past the end");
    assertAccounting(a, A);
  }

  // ---------------------------------------------------------------- randomized, against a model

  /** Reference model: one bit per 64-byte unit. */
  private static final class Model {
    final BitSet used = new BitSet();
    final int units;

    Model(long capacity) {
      this.units = (int) (capacity / A);
    }

    /** The best-fit offset in units (smallest fitting free run, lowest offset among equals), or -1. */
    int bestFit(int need) {
      int best = -1;
      int bestLen = Integer.MAX_VALUE;
      int i = used.nextClearBit(0);
      while (i < units) {
        int end = Math.min(used.nextSetBit(i) < 0 ? units : used.nextSetBit(i), units);
        int len = end - i;
        if (len >= need && len < bestLen) {
          best = i;
          bestLen = len;
        }
        i = used.nextClearBit(end);
      }
      return best;
    }

    int freeRuns() {
      int runs = 0;
      int i = used.nextClearBit(0);
      while (i < units) {
        runs++;
        int next = used.nextSetBit(i);
        if (next < 0) {
          break;
        }
        i = used.nextClearBit(next);
      }
      return runs;
    }

    int longestFreeRun() {
      int longest = 0;
      int i = used.nextClearBit(0);
      while (i < units) {
        int next = used.nextSetBit(i);
        int end = next < 0 ? units : next;
        longest = Math.max(longest, end - i);
        if (next < 0) {
          break;
        }
        i = used.nextClearBit(next);
      }
      return longest;
    }
  }

  private record Live(long offset, long size) {}

  @Test
  void randomizedOperationsMatchAReferenceModel() {
    long capacity = 4096 * A + 33; // 256 KiB and change: rounded down to 4096 units
    BlobAllocator a = new BlobAllocator(capacity);
    Model model = new Model(a.capacity());
    assertEquals(4096, model.units);
    Random r = new Random(20240611L);
    List<Live> live = new ArrayList<>();
    long footprints = 0;
    int failures = 0;
    int successes = 0;
    for (int op = 0; op < 200_000; op++) {
      // Alternate phases that fill the arena to exhaustion and drain it, 10,000 operations each.
      boolean filling = (op / 10_000) % 2 == 0;
      boolean alloc = live.isEmpty() || r.nextInt(100) < (filling ? 62 : 38);
      if (alloc) {
        long size =
            switch (r.nextInt(10)) {
              case 0 -> 0;
              case 1 -> r.nextInt(64 * (int) A); // up to 64 units
              case 2 -> r.nextInt(400 * (int) A); // big: up to 400 units
              default -> 1 + r.nextInt(8 * (int) A); // small
            };
        int need = (int) (BlobAllocator.footprint(size) / A);
        int expected = model.bestFit(need);
        long off = a.allocate(size);
        if (expected < 0) {
          assertEquals(-1, off, "op " + op + ": the model has no free run of " + need + " units");
          failures++;
        } else {
          assertEquals((long) expected * A, off, "op " + op + ": best fit for " + need + " units");
          int from = (int) (off / A);
          if (model.used.nextSetBit(from) >= 0 && model.used.nextSetBit(from) < from + need) {
            fail("op " + op + ": range [" + off + ", +" + need * A + ") overlaps a live range");
          }
          model.used.set(from, from + need);
          live.add(new Live(off, size));
          footprints += BlobAllocator.footprint(size);
          successes++;
        }
      } else {
        Live victim = live.remove(r.nextInt(live.size()));
        a.free(victim.offset(), victim.size());
        int from = (int) (victim.offset() / A);
        int units = (int) (BlobAllocator.footprint(victim.size()) / A);
        assertEquals(units, model.used.get(from, from + units).cardinality(), "op " + op + ": freeing a live range");
        model.used.clear(from, from + units);
        footprints -= BlobAllocator.footprint(victim.size());
      }
      assertEquals(footprints, a.used(), "op " + op + ": used() is the sum of live footprints");
      assertEquals((long) model.used.cardinality() * A, a.used(), "op " + op);
      if (op % 97 == 0) {
        assertEquals(model.freeRuns(), a.freeRangeCount(), "op " + op + ": free ranges are maximal (coalesced)");
        assertEquals((long) model.longestFreeRun() * A, a.largestFree(), "op " + op);
      }
    }
    assertTrue(failures > 1_000, "the test must exercise exhaustion, had " + failures + " failures");
    assertTrue(successes > 50_000, "and many allocations, had " + successes);
    for (Live l : live) {
      a.free(l.offset(), l.size());
    }
    assertAccounting(a, 0);
    assertEquals(1, a.freeRangeCount());
    assertEquals(a.capacity(), a.largestFree());
  }

  // ---------------------------------------------------------------- long mixed workload

  /**
   * 100,000 random creates and deletes (fixed seed) of sizes log-uniform between 64 B and 4 MiB in a
   * simulated 1 GiB arena, with live data kept under 80% of capacity (random live ranges are deleted
   * before a create that would go over): no create may fail for lack of memory.
   *
   * <p>Measured with seed 20250611 (allocator and workload are deterministic, so these are exact):
   * 60,133 creates and 57,941 deletes; live data reaches the 80% limit at operation 10,419 and stays
   * there. Peak fragmentation: at most 763 free ranges; at the worst point (the smallest largest free
   * block before a create) 205.8 MiB free in 594 ranges, the largest 44.9 MiB (21.8% of the free
   * space contiguous), still 11x the largest request. The test prints these figures.
   */
  @Test
  void aLongMixedWorkloadUnderEightyPercentNeverRunsOutOfMemory() {
    long capacity = 1L << 30;
    BlobAllocator a = new BlobAllocator(capacity);
    long limit = capacity / 10 * 8;
    long minSize = 64;
    long maxSize = 4L << 20;
    double logMin = Math.log(minSize);
    double logMax = Math.log(maxSize);
    Random r = new Random(20250611L);
    List<Live> live = new ArrayList<>();
    long liveBytes = 0;
    int creates = 0;
    int deletes = 0;
    int peakRanges = 0;
    long worstLargest = Long.MAX_VALUE;
    long freeAtWorst = 0;
    int rangesAtWorst = 0;
    int firstAtLimit = -1;
    for (int op = 0; op < 100_000; op++) {
      // 60% creates, so live data climbs to the limit and then stays there.
      if (live.isEmpty() || r.nextInt(100) < 60) {
        long size = Math.min(maxSize, (long) Math.exp(logMin + r.nextDouble() * (logMax - logMin)));
        long fp = BlobAllocator.footprint(size);
        while (liveBytes + fp > limit) {
          Live victim = live.remove(r.nextInt(live.size()));
          a.free(victim.offset(), victim.size());
          liveBytes -= BlobAllocator.footprint(victim.size());
          deletes++;
          if (firstAtLimit < 0) {
            firstAtLimit = op;
          }
        }
        if (a.largestFree() < worstLargest) {
          worstLargest = a.largestFree();
          freeAtWorst = a.free();
          rangesAtWorst = a.freeRangeCount();
        }
        peakRanges = Math.max(peakRanges, a.freeRangeCount());
        long off = a.allocate(size);
        if (off < 0) {
          fail("op " + op + ": allocating " + size + " bytes failed with " + liveBytes + " live bytes ("
              + (100 * liveBytes / capacity) + "% of capacity), " + a.free() + " free in " + a.freeRangeCount()
              + " ranges, the largest " + a.largestFree());
        }
        live.add(new Live(off, size));
        liveBytes += fp;
        creates++;
      } else {
        Live victim = live.remove(r.nextInt(live.size()));
        a.free(victim.offset(), victim.size());
        liveBytes -= BlobAllocator.footprint(victim.size());
        deletes++;
      }
      assertEquals(liveBytes, a.used(), "op " + op);
    }
    System.out.printf(
        "BlobAllocator 100k workload: %d creates, %d deletes, at the 80%% limit from op %d; peak %d free ranges;"
            + " worst largest free block %.1f MiB with %.1f MiB free in %d ranges (%.1f%% contiguous)%n",
        creates, deletes, firstAtLimit, peakRanges, worstLargest / 1048576.0, freeAtWorst / 1048576.0, rangesAtWorst,
        100.0 * worstLargest / freeAtWorst);
    assertTrue(firstAtLimit > 0 && firstAtLimit < 20_000, "the workload must run at the limit most of the time: " + firstAtLimit);
    assertTrue(creates > 55_000, "creates: " + creates);
    for (Live l : live) {
      a.free(l.offset(), l.size());
    }
    assertAccounting(a, 0);
    assertEquals(1, a.freeRangeCount());
    assertEquals(a.capacity(), a.largestFree());
  }

  @Test
  void aFreeRangeCanBeClaimedWhereItIsAndNothingElse() {
    BlobAllocator a = new BlobAllocator(64 * 100);
    long first = a.allocate(64 * 10);
    long second = a.allocate(64 * 10);
    a.free(first, 64 * 10);
    org.junit.jupiter.api.Assertions.assertFalse(a.claim(64 * 5, 64 * 10), "reaches into an allocated range");
    org.junit.jupiter.api.Assertions.assertFalse(a.claim(3, 64), "not aligned");
    org.junit.jupiter.api.Assertions.assertTrue(a.claim(64 * 2, 64 * 3));
    assertEquals(64 * 13, a.used());
    // What is left on either side is still free; the claimed part is not.
    org.junit.jupiter.api.Assertions.assertTrue(a.claim(0, 64 * 2));
    org.junit.jupiter.api.Assertions.assertTrue(a.claim(64 * 5, 64 * 5));
    org.junit.jupiter.api.Assertions.assertFalse(a.claim(64 * 2, 64));
    a.free(64 * 2, 64 * 3);
    assertEquals(64 * 2, a.allocate(64 * 3));
    assertEquals(64 * 10, second);
  }
}
