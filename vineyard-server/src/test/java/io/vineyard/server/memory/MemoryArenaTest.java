package io.vineyard.server.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.server.memory.MemoryArena.Range;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The arena over real tmpfs files: one owner of regions, ranges and their bytes. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class MemoryArenaTest {

  private static final Path SHM = Path.of("/dev/shm/vineyard-unit-tests");
  private static final long MI = 1 << 20;

  /** This process's resident shared-memory pages (it maps the arena's region), from /proc/self/status. */
  private static long rssShmem() throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("RssShmem:")) {
        return Long.parseLong(line.substring(9).trim().split("\\s+")[0]) * 1024;
      }
    }
    throw new AssertionError("no RssShmem in /proc/self/status");
  }

  @Test
  void trimGivesFreedPagesBackAndKeepsEveryLiveByte() throws Exception {
    try (MemoryArena arena = MemoryArena.create(SHM, 64 * MI, false)) {
      Range small = arena.allocate(100); // shares its page with the free range after it
      Range big = arena.allocate(32 * MI);
      Range last = arena.allocate(MI);
      arena.bytes(small).fill((byte) 1);
      arena.bytes(big).fill((byte) 2);
      arena.bytes(last).fill((byte) 3);
      long touched = rssShmem();
      arena.free(big);
      assertTrue(rssShmem() >= touched - MI, "a free alone keeps the pages resident");
      long released = arena.trim();
      assertTrue(released >= 32 * MI - 8192, "punched " + released);
      long after = rssShmem();
      assertTrue(touched - after >= 31 * MI, "resident shared memory " + touched / MI + " MiB -> " + after / MI + " MiB");
      for (long i = 0; i < small.size(); i++) {
        assertEquals(1, arena.bytes(small).get(ValueLayout.JAVA_BYTE, i));
      }
      MemorySegment l = arena.bytes(last);
      assertEquals(3, l.get(ValueLayout.JAVA_BYTE, 0));
      assertEquals(3, l.get(ValueLayout.JAVA_BYTE, l.byteSize() - 1));
      assertEquals(MI + 128, arena.used(), "a trim frees no allocation");
      Range again = arena.allocate(32 * MI);
      assertNotNull(again, "trimmed space is allocated as before");
      arena.bytes(again).fill((byte) 4);
      assertEquals(4, arena.bytes(again).get(ValueLayout.JAVA_BYTE, 32 * MI - 1));
      assertEquals(1, arena.trimCount());
    }
  }

  @Test
  void largeFreesTrimByThemselves() throws Exception {
    try (MemoryArena arena = MemoryArena.create(SHM, 64 * MI, false)) {
      arena.trimAfter(16 * MI);
      Range big = arena.allocate(24 * MI);
      arena.bytes(big).fill((byte) 2);
      long touched = rssShmem();
      arena.free(big);
      io.vineyard.testing.Poll.until(java.time.Duration.ofSeconds(10), java.time.Duration.ofMillis(50), "an automatic trim",
          () -> arena.trimCount() == 1);
      assertTrue(touched - rssShmem() >= 23 * MI, "given back");
    }
  }

  @Test
  void eachTrustDomainAllocatesInARegionOfItsOwnWithinOneBudget() {
    try (MemoryArena arena = MemoryArena.create(SHM, 4 * MI, false)) {
      Range shared = arena.allocate(MI);
      Range alice = arena.allocate(MI, 1000);
      Range bob = arena.allocate(MI, 1001);
      Range alice2 = arena.allocate(MI / 2, 1000);
      assertEquals(0, shared.region());
      assertEquals(3, arena.regionCount(), "one region per domain, made on first use");
      assertNotEquals(alice.region(), bob.region());
      assertNotEquals(shared.region(), alice.region());
      assertEquals(alice.region(), alice2.region(), "a domain keeps to its own region");
      assertEquals(4 * MI, arena.capacity(), "domains draw on the budget, they do not add to it");
      assertNull(arena.allocate(MI, 1002), "the budget is spent: no new domain region either");
      assertEquals(3, arena.regionCount());
      assertTrue(arena.largestFree(1002) < MI);
      arena.free(bob);
      assertNotNull(arena.allocate(MI, 1002), "room again once another domain freed some");
      // Each region has its own two descriptors; the read-only one cannot map writable.
      var info = arena.region(alice.region());
      assertNotEquals(info.fd(), info.readOnlyFd());
      assertEquals(-1L, io.vineyard.internal.Libc.mmap(info.size(), io.vineyard.internal.Libc.PROT_READ | io.vineyard.internal.Libc.PROT_WRITE,
          io.vineyard.internal.Libc.MAP_SHARED, info.readOnlyFd(), 0));
    }
  }

  @Test
  void rangesFallToTheNextRegionWhenOneIsFullAndEachRegionHasItsOwnDescriptor() {
    try (MemoryArena arena = MemoryArena.create(SHM, MI, false)) {
      assertEquals(1, arena.regionCount());
      Range a = arena.allocate(MI);
      assertEquals(0, a.region());
      assertNull(arena.allocate(64), "region 0 is full and there is no other");

      assertEquals(1, arena.addRegion(2 * MI, false));
      assertEquals(3 * MI, arena.capacity());
      Range b = arena.allocate(MI + 1);
      assertEquals(1, b.region(), "a range never spans regions: it goes where it fits");
      assertEquals(MI + BlobAllocator.footprint(MI + 1), arena.used());
      assertNotEquals(arena.region(0).fd(), arena.region(1).fd());
      assertEquals(2 * MI, arena.region(1).size());

      // Bytes written through one range are that range's, in its own region.
      arena.bytes(a).fill((byte) 1);
      arena.bytes(b).fill((byte) 2);
      assertEquals(1, arena.bytes(a).get(ValueLayout.JAVA_BYTE, MI - 1));
      assertEquals(2, arena.bytes(b).get(ValueLayout.JAVA_BYTE, 0));
      assertEquals(MI + 1, arena.bytes(b).byteSize());

      arena.free(a);
      arena.free(b);
      assertEquals(0, arena.used());
      assertEquals(2 * MI, arena.largestFree());
    }
  }

  @Test
  void anEmptyRangeTakesNoMemoryAndCloseRemovesEveryFile() throws Exception {
    Path dir;
    try (MemoryArena arena = MemoryArena.create(SHM, MI, false)) {
      dir = arena.directory();
      arena.addRegion(MI, false);
      Range empty = arena.allocate(0);
      assertEquals(0, empty.size());
      assertEquals(MemorySegment.NULL, arena.bytes(empty));
      arena.free(empty);
      assertEquals(0, arena.used());
      assertTrue(Files.exists(dir.resolve("region-0")) && Files.exists(dir.resolve("region-1")));
      assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    }
    assertFalse(Files.exists(dir), "closing removes the private directory and its regions");
  }

  @Test
  void badRequestsAreVineyardErrors() {
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        assertThrows(VineyardException.class, () -> MemoryArena.create(SHM, 0, false)).code());
    MemoryArena arena = MemoryArena.create(SHM, MI, false);
    assertEquals(ErrorCode.INTERNAL, assertThrows(VineyardException.class, () -> arena.region(5)).code());
    arena.close();
    arena.close(); // idempotent
    assertEquals(ErrorCode.UNAVAILABLE, assertThrows(VineyardException.class, () -> arena.allocate(64)).code());
  }
}
