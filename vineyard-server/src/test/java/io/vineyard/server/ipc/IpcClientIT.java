package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.client.ObjectInfo;
import io.vineyard.testing.DaemonProcess;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The IPC client against a real daemon process over a real socket. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IpcClientIT {

  @TempDir static Path work;
  static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(work, "256Mi");
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void putThenGetSeesTheSameBytesThroughAReadOnlyView() {
    byte[] data = randomBytes(1 << 20, 1);
    try (IpcClient writer = daemon.connect(); IpcClient reader = daemon.connect()) {
      ObjectId id;
      try (BlobWriter w = writer.createBlob(data.length)) {
        MemorySegment.copy(data, 0, w.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
        id = w.seal();
      }
      assertTrue(id.isBlob());
      assertTrue(reader.exists(id));
      try (Blob b = reader.getBlob(id)) {
        assertEquals(data.length, b.size());
        assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE));
        assertTrue(b.segment().isReadOnly());
        assertThrows(IllegalArgumentException.class, () -> b.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
      }
      ObjectMeta meta = reader.getMeta(id);
      assertEquals(ObjectMeta.BLOB_TYPENAME, meta.typename());
      assertEquals(data.length, meta.nbytes());
      reader.delete(id);
      assertFalse(reader.exists(id));
    }
  }

  @Test
  void closedHandlesRefuseAccessAndViewsDieWithTheirClient() {
    IpcClient c = daemon.connect();
    ObjectId id = c.putBlob(new byte[] {1, 2, 3});
    Blob b = c.getBlob(id);
    MemorySegment seg = b.segment();
    b.close();
    assertEquals(ErrorCode.ILLEGAL_STATE, assertThrows(VineyardException.class, b::segment).code());
    c.delete(id);
    c.close();
    // The mapping is gone with the client: a stale view fails cleanly instead of crashing.
    assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
  }

  @Test
  void blobsAroundTheInlineLimitRoundTrip() {
    long limit = IpcClient.INLINE_LIMIT;
    try (IpcClient writer = daemon.connect(); IpcClient reader = daemon.connect()) {
      for (long size : new long[] {1, 63, 4096, limit - 1, limit, limit + 1, 3 * limit}) {
        byte[] data = randomBytes((int) size, size);
        ObjectId id = writer.putBlob(data);
        try (Blob b = reader.getBlob(id)) {
          assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE), "size " + size);
        }
        assertEquals(size, reader.getMeta(id).nbytes());
        writer.delete(id);
      }
      assertEquals(0, reader.stats().usedBytes());
    }
  }

  @Test
  void aSmallBlobWhoseIdIsAskedEarlyIsReservedThenSealedWithWhatWasWritten() {
    byte[] data = randomBytes(1000, 5);
    try (IpcClient writer = daemon.connect(); IpcClient reader = daemon.connect()) {
      try (BlobWriter w = writer.createBlob(data.length)) {
        ObjectId id = w.id();
        assertEquals(ErrorCode.NOT_SEALED, assertThrows(VineyardException.class, () -> reader.getBlob(id)).code());
        assertEquals(1, reader.stats().unsealedBlobCount());
        MemorySegment.copy(data, 0, w.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
        assertEquals(id, w.seal());
        try (Blob b = reader.getBlob(id)) {
          assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE));
        }
        writer.delete(id);
      }
    }
  }

  @Test
  void writesAfterSealDoNotReachASmallSealedBlob() {
    try (BufferAllocator alloc = new RootAllocator(); IpcClient c = daemon.connect()) {
      ObjectId id;
      ArrowBuf buf;
      try (BlobWriter w = c.createBlob(64)) {
        buf = w.toArrowBuf(alloc);
        buf.setLong(0, 42L);
        id = w.seal();
      }
      buf.setLong(0, -1L); // the staging memory, not the sealed blob
      buf.close();
      try (Blob b = c.getBlob(id)) {
        assertEquals(42L, b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
      }
      c.delete(id);
    }
  }

  @Test
  void aSmallBlobStartsZeroFilledAlsoWhenItsStagingMemoryIsReused() {
    try (IpcClient c = daemon.connect()) {
      List<ObjectId> ids = new ArrayList<>();
      for (int round = 0; round < 3; round++) {
        try (BlobWriter w = c.createBlob(4000)) {
          MemorySegment s = w.segment();
          for (long i = 0; i < s.byteSize(); i++) {
            assertEquals(0, s.get(ValueLayout.JAVA_BYTE, i), "round " + round + ", byte " + i);
          }
          s.fill((byte) (0x40 + round));
          ids.add(w.seal());
        }
      }
      for (int round = 0; round < 3; round++) {
        try (Blob b = c.getBlob(ids.get(round))) {
          assertEquals((byte) (0x40 + round), b.segment().get(ValueLayout.JAVA_BYTE, 3999), "blob " + round);
        }
      }
      c.delete(ids, false, false);
    }
  }

  @Test
  void emptyBlobsWork() {
    try (IpcClient c = daemon.connect()) {
      ObjectId id;
      try (BlobWriter w = c.createBlob(0)) {
        id = w.seal();
      }
      try (Blob b = c.getBlob(id)) {
        assertEquals(0, b.size());
        assertEquals(0, b.segment().byteSize());
      }
      c.delete(id);
    }
  }

  @Test
  void doubleSealFails() {
    try (IpcClient c = daemon.connect()) {
      try (BlobWriter w = c.createBlob(128)) {
        ObjectId id = w.seal();
        VineyardException e = assertThrows(VineyardException.class, w::seal);
        assertEquals(ErrorCode.ALREADY_SEALED, e.code());
        c.delete(id);
      }
    }
  }

  @Test
  void getOfAnUnknownIdIsNotFoundAndLeavesTheConnectionUsable() {
    try (IpcClient c = daemon.connect()) {
      ObjectId unknown = ObjectId.of(true, 0, 12345);
      VineyardException e = assertThrows(VineyardException.class, () -> c.getBlob(unknown));
      assertEquals(ErrorCode.NOT_FOUND, e.code());
      assertThrows(VineyardException.class, () -> c.getMeta(ObjectId.of(false, 0, 777)));
      assertTrue(c.stats().capacityBytes() > 0);
    }
  }

  @Test
  void unsealedBlobsAreInvisibleToOthersAndAbortFreesThem() {
    try (IpcClient a = daemon.connect(); IpcClient b = daemon.connect()) {
      long usedBefore = a.stats().usedBytes();
      BlobWriter w = a.createBlob(4096);
      assertEquals(ErrorCode.NOT_SEALED, assertThrows(VineyardException.class, () -> b.getBlob(w.id())).code());
      assertFalse(b.exists(w.id()));
      w.close(); // aborts
      assertEquals(usedBefore, a.stats().usedBytes());
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> b.getBlob(w.id())).code());
    }
  }

  @Test
  void deleteWhilePinnedIsDeferredUntilRelease() {
    byte[] data = randomBytes(64 << 10, 2);
    try (IpcClient holder = daemon.connect(); IpcClient deleter = daemon.connect()) {
      long usedBefore = holder.stats().usedBytes();
      ObjectId id = holder.putBlob(data);
      Blob held = holder.getBlob(id);
      deleter.delete(id);
      assertFalse(deleter.exists(id));
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> deleter.getBlob(id)).code());
      // The holder still reads the original bytes, and the memory is still accounted.
      assertArrayEquals(data, held.segment().toArray(ValueLayout.JAVA_BYTE));
      assertTrue(deleter.stats().usedBytes() > usedBefore);
      held.close();
      // release is one-way; the next round trip on the same connection orders after it.
      assertEquals(usedBefore, holder.stats().usedBytes());
    }
  }

  @Test
  void metadataTreesNamesAndListing() {
    try (IpcClient c = daemon.connect()) {
      ObjectId b1 = c.putBlob(new byte[100]);
      ObjectId b2 = c.putBlob(new byte[28]);
      ObjectId column =
          c.putMeta(ObjectMeta.builder("test::Column").field("dtype", "int64").field("length", 16L).member("data", b1).build());
      ObjectId frame =
          c.putMeta(
              ObjectMeta.builder("test::Frame")
                  .field("rows", 16L)
                  .field("ratio", 0.5)
                  .field("sorted", true)
                  .jsonField("schema", "{\"a\":1}")
                  .member("c0", column)
                  .member("extra", b2)
                  .member("again", b1)
                  .build());
      ObjectMeta m = c.getMeta(frame);
      assertEquals("test::Frame", m.typename());
      assertEquals(128, m.nbytes(), "distinct blobs are counted once");
      assertEquals(16L, m.getLong("rows"));
      assertEquals(0.5, m.getDouble("ratio"));
      assertTrue(m.getBoolean("sorted"));
      assertEquals("{\"a\":1}", m.getString("schema"));
      ObjectMeta col = m.member("c0");
      assertEquals(column, col.id());
      assertEquals("int64", col.getString("dtype"));
      assertEquals(b1, col.member("data").id());
      assertEquals(100, col.member("data").nbytes());

      c.putName("my-frame", frame);
      assertEquals(frame, c.getName("my-frame"));
      List<ObjectInfo> frames = c.list("test::Fr*", 0);
      assertEquals(1, frames.size());
      assertEquals(List.of("my-frame"), frames.getFirst().names());
      assertTrue(c.list("test::*", 0).size() >= 2);

      VineyardException inUse = assertThrows(VineyardException.class, () -> c.delete(column));
      assertEquals(ErrorCode.OBJECT_IN_USE, inUse.code());
      List<ObjectId> deleted = c.delete(List.of(frame), false, true);
      assertTrue(deleted.containsAll(List.of(frame, column, b1, b2)), "deep delete removes unreferenced members");
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> c.getName("my-frame")).code());
    }
  }

  @Test
  void aMetadataOnlyClientReadsAndChangesMetadataButRefusesBlobs() {
    byte[] data = randomBytes(300_000, 7); // over the inline limit: created in place
    try (IpcClient full = daemon.connect();
        IpcClient meta = IpcClient.builder().socket(daemon.socket()).metadataOnly().connect()) {
      ObjectId blob = full.putBlob(data);
      ObjectId root = meta.putMeta(ObjectMeta.builder("test::MetaOnly").member("data", blob).field("k", "v").build());
      meta.putName("meta-only-root", root);
      assertEquals(root, meta.getName("meta-only-root"));
      assertEquals("v", meta.getMeta(root).getString("k"));
      assertEquals(data.length, meta.getMeta(blob).nbytes());
      assertTrue(meta.list("test::MetaOnly", 100).stream().anyMatch(o -> o.meta().id().equals(root)));
      assertTrue(meta.stats().capacityBytes() > 0);

      for (org.junit.jupiter.api.function.Executable refused :
          List.<org.junit.jupiter.api.function.Executable>of(
              () -> meta.getBlob(blob),
              () -> meta.getBlobsAsync(List.of(blob)),
              () -> meta.createBlob(16),
              () -> meta.createBlobs(List.of(16L)),
              () -> meta.putBlob(new byte[8]),
              () -> meta.putBlobs(List.of(new byte[8])),
              () -> meta.putBlobAsync(new byte[8]))) {
        VineyardException e = assertThrows(VineyardException.class, refused);
        assertEquals(ErrorCode.ILLEGAL_STATE, e.code());
        assertTrue(e.getMessage().contains("metadata only"), e.getMessage());
      }
      // Refused before anything was sent: the connection still serves, and the full client still reads.
      assertTrue(meta.exists(blob));
      try (Blob b = full.getBlob(blob)) {
        assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE));
      }
      meta.dropName("meta-only-root");
      meta.delete(root);
      meta.delete(blob);
      assertFalse(full.exists(root));
      assertFalse(full.exists(blob));
    }
  }

  @Test
  void putMetaRejectsUnknownMembers() {
    try (IpcClient c = daemon.connect()) {
      ObjectMeta bad = ObjectMeta.builder("test::Bad").member("x", ObjectId.of(true, 0, 1)).build();
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> c.putMeta(bad)).code());
    }
  }

  @Test
  void arrowBuffersViewTheSharedMemoryAndKeepThePin() {
    try (BufferAllocator alloc = new RootAllocator(); IpcClient c = daemon.connect()) {
      ObjectId id;
      try (BlobWriter w = c.createBlob(8 * 1024)) {
        try (ArrowBuf buf = w.toArrowBuf(alloc)) {
          for (int i = 0; i < 1024; i++) {
            buf.setLong(8L * i, i * 3L);
          }
        }
        id = w.seal();
      }
      ArrowBuf view;
      try (Blob b = c.getBlob(id)) {
        view = b.toArrowBuf(alloc);
      }
      // The blob handle is closed, but the Arrow buffer still holds the pin and the bytes.
      assertEquals(3L * 1000, view.getLong(8L * 1000));
      assertEquals(1, c.stats().pinnedBlobCount());
      view.close();
      assertEquals(0, c.stats().pinnedBlobCount());
      c.delete(id);
    }
  }

  @Test
  void closingAClientWithOpenHandlesFailsLoudlyButCleansUp() {
    IpcClient c = daemon.connect();
    ObjectId id = c.putBlob(new byte[10]);
    c.getBlob(id);
    assertEquals(ErrorCode.ILLEGAL_STATE, assertThrows(VineyardException.class, c::close).code());
    assertTrue(c.isClosed());
    try (IpcClient d = daemon.connect()) {
      assertEquals(0, d.stats().pinnedBlobCount());
      d.delete(id);
    }
  }

  @Test
  void manyConcurrentClients() throws Exception {
    int clients = 16;
    int rounds = 100;
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < clients; t++) {
        final int seed = t;
        futures.add(
            pool.submit(
                () -> {
                  try (IpcClient c = daemon.connect()) {
                    Random r = new Random(seed);
                    for (int i = 0; i < rounds; i++) {
                      byte[] data = randomBytes(1 + r.nextInt(64 << 10), seed * 1000L + i);
                      ObjectId id = c.putBlob(data);
                      try (Blob b = c.getBlob(id)) {
                        assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE));
                      }
                      c.delete(id);
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    try (IpcClient c = daemon.connect()) {
      StoreStats s = c.stats();
      assertEquals(0, s.blobCount());
      assertEquals(0, s.usedBytes());
      // The others' sessions end as the daemon sees their connections close, a moment after close().
      StoreStats settled = io.vineyard.testing.Poll.until(java.time.Duration.ofSeconds(10), java.time.Duration.ofMillis(20),
          "the other clients' sessions to end", c::stats, st -> st.clientCount() == 1);
      assertEquals(1, settled.clientCount());
    }
  }
}
