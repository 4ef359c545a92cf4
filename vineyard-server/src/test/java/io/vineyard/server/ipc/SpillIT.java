package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.server.Vineyardd;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The spill tier against real daemon processes: {@code --spill-dir}, {@code --spill-upper} and
 * {@code --spill-lower}, with blobs mostly larger than the inline limit so that they live in the
 * arena the way real data does. Every blob's bytes are checked with a CRC32C of pseudo-random content.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SpillIT {

  private static final long KI = 1 << 10;
  private static final long MI = 1 << 20;
  private static final double UPPER = 0.8;
  private static final double LOWER = 0.5;

  @TempDir Path work;

  // ---------------------------------------------------------------- helpers

  /** A blob this test stored: its id, size and checksum. */
  private record Stored(ObjectId id, long size, long crc) {}

  /** Fills {@code seg} with xorshift bytes from {@code seed}; returns their CRC32C. */
  private static long fill(MemorySegment seg, long seed) {
    long x = seed * 0x9E3779B97F4A7C15L ^ 0x5DEECE66DL;
    long n = seg.byteSize();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, x);
    }
    for (; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      seg.set(ValueLayout.JAVA_BYTE, i, (byte) x);
    }
    return crc(seg);
  }

  private static long crc(MemorySegment seg) {
    CRC32C c = new CRC32C();
    c.update(seg.asByteBuffer());
    return c.getValue();
  }

  private static Stored put(IpcClient c, long size, long seed) {
    try (BlobWriter w = c.createBlob(size)) {
      long crc = fill(w.segment(), seed);
      return new Stored(w.seal(), size, crc);
    }
  }

  private static void assertIntact(IpcClient c, Stored s) {
    try (Blob b = c.getBlob(s.id())) {
      assertEquals(s.size(), b.size(), "size of " + s.id());
      assertEquals(s.crc(), crc(b.segment()), "checksum of " + s.id());
    }
  }

  /** Mixed sizes: mostly 512 KiB .. 8 MiB with odd lengths, one in eight small (sent inline). */
  private static long mixedSize(Random r, int i, long max) {
    if (i % 8 == 7) {
      return 1 + r.nextInt((int) IpcClient.INLINE_LIMIT);
    }
    return 512 * KI + r.nextLong(max - 512 * KI);
  }

  private static Path privateDir(Path spillDir, DaemonProcess d) {
    return spillDir.resolve("vineyardd-" + d.pid());
  }

  /**
   * Spill files are named by the blob id's 16 hex digits, optionally with a per-spill sequence
   * number ({@code <id>.blob} or {@code <id>-<n>.blob}); {@code .partial} while being written.
   */
  private static final Pattern SPILL_FILE = Pattern.compile("([0-9a-f]{16})(-[0-9]+)?\\.blob");

  /** Whether a spill file of this blob is in the directory now. */
  private static boolean hasSpillFile(Path privateDir, ObjectId id) throws IOException {
    String hex = HexFormat.of().toHexDigits(id.value());
    for (Path f : filesIn(privateDir)) {
      Matcher m = SPILL_FILE.matcher(f.getFileName().toString());
      if (m.matches() && m.group(1).equals(hex)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Waits until the spill directory holds exactly one complete file per spilled blob, as the
   * daemon's counters say (files no longer needed may be unlinked in the background), and returns
   * them by blob id. Bounded: 10 s.
   */
  private static Map<ObjectId, Path> awaitSpillFiles(IpcClient c, Path dir) throws Exception {
    return Poll.until(Duration.ofSeconds(10), Duration.ofMillis(20), "the spill directory to match the counters",
        () -> SpillDirectory.read(c, dir), SpillDirectory::matchesCounters).byId();
  }

  /** One look at the spill directory and at the daemon's spill counters. */
  private record SpillDirectory(StoreStats stats, List<Path> files, Map<ObjectId, Path> byId, long bytes, boolean clean) {

    static SpillDirectory read(IpcClient c, Path dir) throws IOException {
      StoreStats st = c.stats();
      Map<ObjectId, Path> byId = new HashMap<>();
      List<Path> files = filesIn(dir);
      long bytes = 0;
      boolean clean = true;
      try {
        for (Path f : files) {
          Matcher m = SPILL_FILE.matcher(f.getFileName().toString());
          if (!m.matches() || byId.put(new ObjectId(HexFormat.fromHexDigitsToLong(m.group(1))), f) != null) {
            clean = false; // a partial file, or an old file of a blob spilled again, not unlinked yet
            break;
          }
          bytes += Files.size(f);
        }
      } catch (java.nio.file.NoSuchFileException e) {
        clean = false; // unlinked while listing
      }
      return new SpillDirectory(st, files, byId, bytes, clean);
    }

    boolean matchesCounters() {
      return clean && byId.size() == stats.spilledBlobCount() && bytes == stats.spilledBytes();
    }

    @Override
    public String toString() {
      return "counters " + stats.spilledBlobCount() + " blobs, " + stats.spilledBytes() + " bytes; files " + files;
    }
  }

  private static List<Path> filesIn(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }

  private static List<Path> daemonDirsIn(Path spillDir) throws IOException {
    if (!Files.exists(spillDir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(spillDir)) {
      return s.filter(p -> p.getFileName().toString().startsWith("vineyardd-")).toList();
    }
  }

  private static long crcOfFile(Path p) throws IOException {
    CRC32C c = new CRC32C();
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
      while (ch.read(buf) >= 0) {
        buf.flip();
        c.update(buf);
        buf.clear();
      }
    }
    return c.getValue();
  }

  private static void assertWithinMarks(StoreStats st, String when) {
    assertTrue(st.usedBytes() <= st.capacityBytes(), when + ": resident " + st.usedBytes() + " > --size");
    assertTrue(st.usedBytes() <= UPPER * st.capacityBytes(),
        when + ": resident " + MemorySize.format(st.usedBytes()) + " above the upper mark with everything spillable");
  }

  private Path subdir(String name) throws IOException {
    return Files.createDirectories(work.resolve(name));
  }

  // ---------------------------------------------------------------- (a) 4x the memory, read back

  @Test
  void fourTimesTheMemoryLimitIsStoredAndReadBackIntact() throws Exception {
    Path spill = work.resolve("spill");
    DaemonProcess d = DaemonProcess.start(work, "64Mi", "--spill-dir", spill.toString());
    try {
      Path dir = privateDir(spill, d);
      assertTrue(Files.isDirectory(dir), "the daemon's private spill directory exists from the start");
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
      try (IpcClient c = d.connect()) {
        long cap = c.stats().capacityBytes();
        assertEquals(64 * MI, cap);
        Random r = new Random(1);
        List<Stored> stored = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < 1000 && total < 4 * cap; i++) {
          Stored s = put(c, mixedSize(r, i, 8 * MI), i);
          stored.add(s);
          total += s.size();
          assertWithinMarks(c.stats(), "after put " + i);
        }
        assertTrue(total >= 4 * cap, "stored " + MemorySize.format(total));

        // While blobs are spilled, each has exactly one complete file holding its bytes.
        StoreStats st = c.stats();
        assertTrue(st.spillWrites() > 0, "4x the memory must spill: " + st);
        assertTrue(st.spilledBlobCount() > 0);
        assertEquals(stored.size(), st.blobCount(), "nothing dropped");
        Map<ObjectId, Stored> byId = new HashMap<>();
        stored.forEach(s -> byId.put(s.id(), s));
        Map<ObjectId, Path> files = awaitSpillFiles(c, dir);
        long spilledSize = 0;
        for (Map.Entry<ObjectId, Path> f : files.entrySet()) {
          Stored s = byId.get(f.getKey());
          assertTrue(s != null, "a spill file for no blob of ours: " + f.getValue());
          assertEquals(s.size(), Files.size(f.getValue()), f.getValue().toString());
          assertEquals(s.crc(), crcOfFile(f.getValue()), "spill file holds the blob's bytes: " + f.getValue());
          spilledSize += s.size();
        }
        assertEquals(st.spilledBytes(), spilledSize);
        long residentSize = stored.stream().filter(s -> !files.containsKey(s.id())).mapToLong(Stored::size).sum();
        assertEquals(total, spilledSize + residentSize, "every byte is resident or spilled");
        assertTrue(files.containsKey(stored.getFirst().id()), "the oldest blob went first");
        long spilledBeforeReading = st.spilledBlobCount();

        // Read back in reverse, then in a shuffled order.
        List<Stored> order = new ArrayList<>(stored.reversed());
        for (int pass = 0; pass < 2; pass++) {
          for (Stored s : order) {
            assertIntact(c, s);
            StoreStats now = c.stats();
            assertTrue(now.usedBytes() <= cap, "resident within --size while reading back");
          }
          Collections.shuffle(order, new Random(2));
        }
        st = c.stats();
        assertTrue(st.reloads() >= spilledBeforeReading, "every spilled blob came back at least once: " + st);
        assertEquals(st.spilledBlobCount(), awaitSpillFiles(c, dir).size());
        assertEquals(0, st.pinnedBlobCount());

        List<ObjectId> ids = stored.stream().map(Stored::id).toList();
        assertEquals(ids.size(), c.delete(ids, false, false).size());
        st = c.stats();
        assertEquals(0, st.usedBytes());
        assertEquals(0, st.spilledBytes());
        assertEquals(0, st.spilledBlobCount());
        assertEquals(0, st.blobCount());
        assertEquals(cap, st.largestFreeBytes());
        assertEquals(Map.of(), awaitSpillFiles(c, dir), "deleting every object leaves the spill directory empty");
        assertEquals(List.of(), filesIn(dir));
      }
    } finally {
      d.close();
    }
    assertEquals(List.of(), daemonDirsIn(spill), "the private spill directory goes with the daemon");
  }

  // ---------------------------------------------------------------- (b) pinned blobs stay

  @Test
  void pinnedBlobsStayResidentUnderPressure() throws Exception {
    Path spill = work.resolve("spill");
    try (DaemonProcess d = DaemonProcess.start(work, "32Mi", "--spill-dir", spill.toString());
        IpcClient holder = d.connect();
        IpcClient pusher = d.connect()) {
      Path dir = privateDir(spill, d);
      List<Stored> pinned = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        pinned.add(put(holder, 4 * MI + 1000 * i + 1, 100 + i));
      }
      List<Blob> handles = holder.getBlobs(pinned.stream().map(Stored::id).toList());
      List<Stored> pushed = new ArrayList<>();
      try {
        Random r = new Random(3);
        for (int i = 0; i < 24; i++) {
          pushed.add(put(pusher, 3 * MI + r.nextInt((int) MI), 200 + i));
          for (Stored p : pinned) {
            assertFalse(hasSpillFile(dir, p.id()), "pinned blob spilled after push " + i);
          }
          assertEquals(3, pusher.stats().pinnedBlobCount());
        }
        StoreStats st = pusher.stats();
        assertTrue(st.spillWrites() >= 15, "the pressure spilled: " + st);
        // The views the holder had all along still read the right bytes.
        for (int i = 0; i < 3; i++) {
          assertEquals(pinned.get(i).crc(), crc(handles.get(i).segment()), "view of pinned blob " + i);
        }
        for (Stored s : pushed) {
          assertIntact(pusher, s);
        }
        for (Stored p : pinned) {
          assertFalse(hasSpillFile(dir, p.id()));
        }
      } finally {
        handles.forEach(Blob::close);
      }
      holder.stats(); // releases are one-way: a round trip on the same connection makes sure they landed
      assertEquals(0, pusher.stats().pinnedBlobCount());
      // Released, they are ordinary blobs: enough new data pushes them out too.
      for (int i = 0; i < 12; i++) {
        pushed.add(put(pusher, 4 * MI, 300 + i));
      }
      for (Stored p : pinned) {
        assertTrue(hasSpillFile(dir, p.id()), "released and least recently used: spilled");
        assertIntact(pusher, p);
      }
      assertEquals(0, pusher.stats().pinnedBlobCount());
    }
  }

  // ---------------------------------------------------------------- (c) unsealed blobs stay

  @Test
  void unsealedBlobsAreNeverSpilledAndSealFineAfterPressure() throws Exception {
    Path spill = work.resolve("spill");
    try (DaemonProcess d = DaemonProcess.start(work, "32Mi", "--spill-dir", spill.toString());
        IpcClient writer = d.connect();
        IpcClient pusher = d.connect()) {
      Path dir = privateDir(spill, d);
      Stored big;
      Stored small;
      try (BlobWriter w = writer.createBlob(6 * MI + 123); BlobWriter sw = writer.createBlob(40 * KI)) {
        ObjectId wid = w.id();
        ObjectId sid = sw.id(); // reserved in the daemon: an unsealed blob too
        long before = fill(w.segment(), 1);
        long smallCrc = fill(sw.segment(), 2);
        assertEquals(2, pusher.stats().unsealedBlobCount());
        List<Stored> pushed = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          pushed.add(put(pusher, 4 * MI - 7 * i, 10 + i));
          assertFalse(hasSpillFile(dir, wid), "an unsealed blob was spilled");
          assertFalse(hasSpillFile(dir, sid), "an unsealed small blob was spilled");
        }
        assertTrue(pusher.stats().spillWrites() > 0);
        assertEquals(before, crc(w.segment()), "nobody else wrote into the unsealed blob's memory");
        // Finish writing (the second half anew) and seal.
        MemorySegment seg = w.segment();
        fill(seg.asSlice(seg.byteSize() / 2), 3);
        long finalCrc = crc(seg);
        big = new Stored(w.seal(), seg.byteSize(), finalCrc);
        small = new Stored(sw.seal(), 40 * KI, smallCrc);
        assertEquals(wid, big.id());
        assertEquals(sid, small.id());
        for (Stored s : pushed) {
          assertIntact(pusher, s);
        }
      }
      assertIntact(pusher, big);
      assertIntact(pusher, small);
      assertEquals(0, pusher.stats().unsealedBlobCount());

      // When all that is resident is being written, a create that does not fit fails clearly.
      // (10 MiB each: wherever the first lands, the second fits beside it once the rest is spilled.)
      try (BlobWriter a = writer.createBlob(10 * MI); BlobWriter b = writer.createBlob(10 * MI)) {
        VineyardException e = assertThrows(VineyardException.class, () -> pusher.createBlob(16 * MI));
        assertEquals(ErrorCode.OUT_OF_MEMORY, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("2 blobs of 20.0 MiB are being written (unsealed)"), e.getMessage());
        assertFalse(e.getMessage().contains("pinned"), "nothing is pinned: " + e.getMessage());
        assertTrue(a.id() != null && b.id() != null);
      } // aborted
      assertIntact(pusher, big);
      assertEquals(0, pusher.stats().unsealedBlobCount());
    }
  }

  // ---------------------------------------------------------------- (d) no spill dir

  @Test
  void withoutASpillDirectoryACreateThatDoesNotFitIsOutOfMemoryAndNothingIsLost() throws Exception {
    try (DaemonProcess d = DaemonProcess.start(work, "32Mi"); IpcClient c = d.connect()) {
      long cap = c.stats().capacityBytes();
      List<Stored> stored = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        stored.add(put(c, 4 * MI - 64 * i, i));
      }
      for (int i = 0; i < 10; i++) {
        stored.add(put(c, 10 * KI + i, 100 + i)); // inline
      }
      stored.add(put(c, 3 * MI + 5, 200));
      StoreStats before = c.stats();
      long free = cap - before.usedBytes();
      long request = 16 * MI;
      VineyardException e = assertThrows(VineyardException.class, () -> c.createBlob(request));
      assertEquals(ErrorCode.OUT_OF_MEMORY, e.code(), e.getMessage());
      String msg = e.getMessage();
      assertTrue(msg.contains(Long.toString(request)) && msg.contains(MemorySize.format(request)), "asked: " + msg);
      assertTrue(msg.contains(MemorySize.format(free) + " free"), "free: " + msg);
      assertTrue(msg.contains("no --spill-dir"), msg);
      StoreStats after = c.stats();
      assertEquals(before.usedBytes(), after.usedBytes(), "a failed create takes nothing");
      assertEquals(before.blobCount(), after.blobCount());
      assertEquals(0, after.unsealedBlobCount());
      assertEquals(0, after.spillWrites());

      // Fill to exactly --size: the last bytes are usable, one more is not, inline or in place.
      long gap = 32 * KI;
      stored.add(put(c, after.largestFreeBytes() - gap, 300));
      VineyardException inline = assertThrows(VineyardException.class, () -> c.putBlob(new byte[(int) (60 * KI)]));
      assertEquals(ErrorCode.OUT_OF_MEMORY, inline.code());
      assertTrue(inline.getMessage().contains(Long.toString(60 * KI)), inline.getMessage());
      stored.add(put(c, gap, 301));
      assertEquals(cap, c.stats().usedBytes(), "full to the byte, never over");
      assertEquals(ErrorCode.OUT_OF_MEMORY, assertThrows(VineyardException.class, () -> c.putBlob(new byte[1])).code());
      long inPlace = IpcClient.INLINE_LIMIT + 1; // larger than the inline limit: reserved at create
      assertEquals(ErrorCode.OUT_OF_MEMORY, assertThrows(VineyardException.class, () -> c.createBlob(inPlace)).code());
      assertEquals(0, c.stats().unsealedBlobCount());

      // The daemon is healthy and every object is intact, for this client and a new one.
      assertTrue(d.isAlive());
      try (IpcClient fresh = d.connect()) {
        for (Stored s : stored) {
          assertIntact(fresh, s);
        }
        fresh.delete(stored.getFirst().id());
        stored.removeFirst();
        stored.add(put(fresh, 3 * MI, 400));
      }
      for (Stored s : stored) {
        assertIntact(c, s);
      }
      assertEquals(stored.size(), c.stats().blobCount());
    }
  }

  // ---------------------------------------------------------------- (e) concurrent clients

  @Test
  void concurrentClientsUnderPressureKeepEveryByte() throws Exception {
    Path spill = work.resolve("spill");
    try (DaemonProcess d = DaemonProcess.start(work, "64Mi", "--spill-dir", spill.toString());
        IpcClient main = d.connect()) {
      long cap = main.stats().capacityBytes();
      List<Stored> shared = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        shared.add(put(main, 2 * MI - 3 * i, 1000 + i));
      }
      int threads = 4;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      AtomicBoolean done = new AtomicBoolean();
      AtomicLong maxUsed = new AtomicLong();
      AtomicLong samples = new AtomicLong();
      ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
      try {
        // A sampler on its own connection: the highest resident figure the daemon ever reports.
        Future<?> sampler =
            pool.submit(() -> {
              try (IpcClient s = d.connect()) {
                while (!done.get() && System.nanoTime() < deadline) {
                  maxUsed.accumulateAndGet(s.stats().usedBytes(), Math::max);
                  samples.incrementAndGet();
                  Thread.sleep(5);
                }
              }
              return null;
            });
        List<Future<Integer>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          final int seed = t;
          workers.add(pool.submit(() -> worker(d, seed, shared, deadline)));
        }
        int ops = 0;
        for (Future<Integer> f : workers) {
          ops += f.get(2, TimeUnit.MINUTES);
        }
        done.set(true);
        sampler.get(1, TimeUnit.MINUTES);
        assertEquals(threads * 80, ops, "every worker ran all its operations before the deadline");
      } finally {
        done.set(true);
        pool.shutdownNow();
      }
      assertTrue(samples.get() > 0);
      assertTrue(maxUsed.get() <= cap, "resident " + maxUsed.get() + " > --size");
      // Pins and unsealed blobs never add up to more than 16 MiB here, so the upper mark holds too.
      assertTrue(maxUsed.get() <= UPPER * cap, "resident " + MemorySize.format(maxUsed.get()) + " above the upper mark");
      StoreStats st = main.stats();
      assertTrue(st.spillWrites() > 0, "the workload must spill: " + st);
      assertTrue(st.reloads() > 0, "and reload: " + st);
      assertEquals(0, st.pinnedBlobCount());
      assertEquals(0, st.unsealedBlobCount());
      assertEquals(shared.size(), st.blobCount(), "each worker deleted its own blobs, nothing else is left");
      for (Stored s : shared) {
        assertIntact(main, s);
      }
      main.delete(shared.stream().map(Stored::id).toList(), false, false);
      st = main.stats();
      assertEquals(0, st.usedBytes());
      assertEquals(0, st.spilledBytes());
      assertEquals(Map.of(), awaitSpillFiles(main, privateDir(spill, d)));
      assertEquals(List.of(), filesIn(privateDir(spill, d)), "nothing partial left either");
    }
  }

  /** One client's bounded mix of puts, gets (one or two at a time) and deletes; returns its op count. */
  private static int worker(DaemonProcess d, int seed, List<Stored> shared, long deadline) {
    Random r = new Random(seed);
    List<Stored> mine = new ArrayList<>();
    int ops = 0;
    try (IpcClient c = d.connect()) {
      for (int op = 0; op < 80 && System.nanoTime() < deadline; op++, ops++) {
        int k = r.nextInt(100);
        if (k < 45 || mine.isEmpty()) {
          long size = op % 10 == 9 ? 1 + r.nextInt((int) IpcClient.INLINE_LIMIT) : 256 * KI + r.nextLong(2 * MI - 256 * KI);
          mine.add(put(c, size, seed * 10_000L + op));
        } else if (k < 65) {
          assertIntact(c, mine.get(r.nextInt(mine.size())));
        } else if (k < 75) {
          // Two at once (possibly both spilled): at most two pins per client, so the arena always has room.
          Stored a = mine.get(r.nextInt(mine.size()));
          Stored b = r.nextBoolean() ? shared.get(r.nextInt(shared.size())) : mine.get(r.nextInt(mine.size()));
          List<Blob> got = c.getBlobs(List.of(a.id(), b.id()));
          try {
            assertEquals(a.crc(), crc(got.get(0).segment()), "worker " + seed + " op " + op);
            assertEquals(b.crc(), crc(got.get(1).segment()), "worker " + seed + " op " + op);
          } finally {
            got.forEach(Blob::close);
          }
        } else if (k < 85) {
          assertIntact(c, shared.get(r.nextInt(shared.size())));
        } else {
          c.delete(mine.remove(r.nextInt(mine.size())).id());
        }
      }
      for (Stored s : mine) {
        assertIntact(c, s);
      }
      if (!mine.isEmpty()) {
        c.delete(mine.stream().map(Stored::id).toList(), false, false);
      }
    }
    return ops;
  }

  // ---------------------------------------------------------------- (f) bad marks

  @Test
  void invalidMarksStopTheDaemonAtStartWithAClearMessage() throws Exception {
    Path spill = work.resolve("spill");
    Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-spill-it-");
    try {
      String[][] cases = {{"--spill-lower", "0.9", "--spill-upper", "0.5"}, {"--spill-upper", "1.5"}, {"--spill-lower", "0"}};
      for (int i = 0; i < cases.length; i++) {
        Path sock = work.resolve("bad" + i + ".sock");
        List<String> args =
            new ArrayList<>(List.of("--socket", sock.toString(), "--size", "16Mi", "--shm-dir", shm.toString(),
                "--spill-dir", spill.toString()));
        args.addAll(List.of(cases[i]));
        ChildJvm.Result res = ChildJvm.run(work.resolve("bad" + i + ".log"), 60, Vineyardd.class, args.toArray(String[]::new));
        String what = String.join(" ", cases[i]) + ":\n" + res.output();
        assertNotEquals(0, res.exitCode(), what);
        assertTrue(res.output().contains("--spill-lower") && res.output().contains("--spill-upper"), what);
        assertTrue(res.output().contains("0 < lower < upper <= 1"), what);
        assertFalse(res.output().contains("\tat "), "no stack trace for a user error: " + what);
        assertFalse(Files.exists(sock), "nothing served: " + what);
        assertEquals(List.of(), daemonDirsIn(spill), "no spill directory made: " + what);
        assertEquals(List.of(), daemonDirsIn(shm), "no shared memory made: " + what);
      }
    } finally {
      deleteTree(shm);
    }
  }

  @Test
  void aSpilledBlobIsLoadedBackForAGrpcFetch() throws Exception {
    Path spill = work.resolve("spill");
    try (DaemonProcess d = DaemonProcess.start(work, "16Mi", "--spill-dir", spill.toString());
        IpcClient c = d.connect()) {
      List<Stored> stored = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        stored.add(put(c, 4 * MI - 7 * i, 70 + i));
      }
      StoreStats before = c.stats();
      assertTrue(before.spilledBlobCount() > 0, "the oldest blobs are spilled: " + before);
      try (io.vineyard.client.RpcClient r = io.vineyard.client.RpcClient.connect(d.info().rpcEndpoint())) {
        byte[] bytes = r.fetchBlob(stored.getFirst().id());
        assertEquals(stored.getFirst().size(), bytes.length);
        assertEquals(stored.getFirst().crc(), crc(java.lang.foreign.MemorySegment.ofArray(bytes)), "the fetched bytes are the blob's");
      }
      StoreStats after = c.stats();
      assertTrue(after.reloads() > before.reloads(), "the fetch loaded it back: " + after);
      assertEquals(0, after.pinnedBlobCount(), "the stream's pin is gone with the stream");
      for (Stored s : stored) {
        assertIntact(c, s);
      }
    }
  }

  @Test
  void anUnusableSpillDirectoryStopsTheDaemonAtStartWithAClearMessage() throws Exception {
    Path notADirectory = Files.writeString(work.resolve("spill-is-a-file"), "x");
    Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-spill-it-");
    try {
      Path sock = work.resolve("nodir.sock");
      ChildJvm.Result res =
          ChildJvm.run(work.resolve("nodir.log"), 60, Vineyardd.class, "--socket", sock.toString(), "--size", "16Mi",
              "--shm-dir", shm.toString(), "--spill-dir", notADirectory.toString());
      assertNotEquals(0, res.exitCode(), res.output());
      assertTrue(res.output().contains("cannot create spill directory"), res.output());
      assertTrue(res.output().contains(notADirectory.toString()), res.output());
      assertFalse(res.output().contains("\tat "), "no stack trace for a user error:\n" + res.output());
      assertFalse(Files.exists(sock));
    } finally {
      deleteTree(shm);
    }
  }

  @Test
  void aFailedStartBecauseOfTheSpillDirectoryLeavesNoSharedMemoryBehind() throws Exception {
    Path notADirectory = Files.writeString(work.resolve("spill-is-a-file"), "x");
    Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vineyard-spill-it-");
    try {
      ChildJvm.Result res =
          ChildJvm.run(work.resolve("leak.log"), 60, Vineyardd.class, "--socket", work.resolve("leak.sock").toString(),
              "--size", "16Mi", "--reserve-memory", "--shm-dir", shm.toString(), "--spill-dir", notADirectory.toString());
      assertNotEquals(0, res.exitCode(), res.output());
      assertEquals(List.of(), daemonDirsIn(shm), "a failed start leaves no shared memory behind:\n" + res.output());
    } finally {
      deleteTree(shm);
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  // ---------------------------------------------------------------- (g) a spill that fails

  @Test
  void aSpillThatFailsFailsTheCreateWithAClearErrorAndKeepsEveryBlob() throws Exception {
    Path spill = work.resolve("spill");
    try (DaemonProcess d = DaemonProcess.start(work, "32Mi", "--spill-dir", spill.toString()); IpcClient c = d.connect()) {
      Path dir = privateDir(spill, d);
      List<Stored> stored = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        stored.add(put(c, 4 * MI, i)); // 24 MiB: under the upper mark (25.6 MiB)
      }
      assertEquals(0, c.stats().spillWrites());
      // Break the spill directory: a file where the directory was (this works as root, unlike chmod).
      Path away = spill.resolve("moved-away");
      Files.move(dir, away);
      Files.writeString(dir, "not a directory");
      try {
        VineyardException e = assertThrows(VineyardException.class, () -> c.createBlob(12 * MI));
        assertEquals(ErrorCode.OUT_OF_MEMORY, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("spilling to " + dir + " failed"), e.getMessage());
        assertTrue(e.getMessage().contains("Not a directory"), e.getMessage());
        assertTrue(e.getMessage().contains(Long.toString(12 * MI)), e.getMessage());
        StoreStats st = c.stats();
        assertEquals(0, st.spillWrites());
        assertEquals(0, st.spilledBlobCount());
        assertEquals(0, st.unsealedBlobCount());
        assertEquals(24 * MI, st.usedBytes(), "every blob still in memory");
        for (Stored s : stored) {
          assertIntact(c, s);
        }
        // A create that fits is not failed by a spill it did not need (memory just stays high).
        stored.add(put(c, 4 * MI, 6));
        assertEquals(28 * MI, c.stats().usedBytes());
        assertTrue(d.log().contains("memory stays above the upper mark"), d.log());
      } finally {
        Files.delete(dir);
        Files.move(away, dir);
      }
      // Repaired: the same create now spills and succeeds.
      stored.add(put(c, 12 * MI, 7));
      StoreStats st = c.stats();
      assertTrue(st.spillWrites() > 0);
      assertTrue(hasSpillFile(dir, stored.getFirst().id()), "the first victim is the oldest");
      assertEquals(st.spilledBlobCount(), awaitSpillFiles(c, dir).size());
      for (Stored s : stored) {
        assertIntact(c, s);
      }
      assertTrue(d.isAlive());
    }
  }

  // ---------------------------------------------------------------- (h) spill directories and daemons

  @Test
  void daemonsSharingASpillDirectoryKeepApartAndAKilledDaemonsFilesAreCleanedUp() throws Exception {
    Path spill = work.resolve("spill");
    DaemonProcess killed = DaemonProcess.start(subdir("a"), "16Mi", "--spill-dir", spill.toString());
    Path killedDir = privateDir(spill, killed);
    try (IpcClient c = killed.connect()) {
      for (int i = 0; i < 4; i++) {
        put(c, 6 * MI, i);
      }
      assertTrue(c.stats().spilledBlobCount() > 0);
    }
    assertFalse(filesIn(killedDir).isEmpty());
    ProcessHandle.of(killed.pid()).orElseThrow().destroyForcibly(); // SIGKILL: no shutdown hook runs
    killed.close(); // waits for it to be gone
    assertFalse(killed.isAlive());
    assertTrue(Files.exists(killedDir), "a killed daemon cannot clean up after itself");

    try (DaemonProcess b = DaemonProcess.start(subdir("b"), "16Mi", "--spill-dir", spill.toString());
        IpcClient cb = b.connect()) {
      assertFalse(Files.exists(killedDir), "the next daemon removes the files of one that is gone");
      List<Stored> inB = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        inB.add(put(cb, 6 * MI, 10 + i));
      }
      Path bDir = privateDir(spill, b);
      List<Path> bFiles = filesIn(bDir);
      assertFalse(bFiles.isEmpty());
      try (DaemonProcess other = DaemonProcess.start(subdir("c"), "16Mi", "--spill-dir", spill.toString());
          IpcClient co = other.connect()) {
        assertEquals(bFiles, filesIn(bDir), "a second live daemon leaves the first one's spill files alone");
        List<Stored> inOther = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          inOther.add(put(co, 6 * MI, 20 + i));
        }
        for (Stored s : inOther) {
          assertIntact(co, s);
        }
        assertEquals(2, daemonDirsIn(spill).size());
      }
      for (Stored s : inB) {
        assertIntact(cb, s);
      }
    }
    assertEquals(List.of(), daemonDirsIn(spill), "stopped daemons remove their spill directories");
  }
}
