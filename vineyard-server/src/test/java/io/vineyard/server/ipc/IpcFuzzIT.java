package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import io.vineyard.VineyardException;
import io.vineyard.client.ObjectInfo;
import io.vineyard.internal.Libc;
import io.vineyard.internal.UnixSocketConnection;
import io.vineyard.proto.ipc.AbortBlobRequest;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.CreateBlobsRequest;
import io.vineyard.proto.ipc.DeleteRequest;
import io.vineyard.proto.ipc.DropNameRequest;
import io.vineyard.proto.ipc.ExistsRequest;
import io.vineyard.proto.ipc.FieldValue;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.GetMetaRequest;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateRequest;
import io.vineyard.proto.ipc.MigrateRequest;
import io.vineyard.proto.ipc.PersistRequest;
import io.vineyard.proto.ipc.PutMetaRequest;
import io.vineyard.proto.ipc.PutNameRequest;
import io.vineyard.proto.ipc.ReleaseRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.SealBlobRequest;
import io.vineyard.proto.ipc.SealBlobsRequest;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.server.testing.RawIpc;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes a real daemon's socket with at least 10,000 frames: valid requests, mutated ones (bytes
 * replaced, flipped, inserted, dropped), random bytes, bad length prefixes and frames cut short.
 * Whatever comes, every answer parses, error messages stay short, the daemon logs no bug, a
 * bystander's objects read back with the same checksums, and once the fuzzers' leftovers are gone
 * the store's counts are back where they were. Seeded: a failure names the seed that reproduces it.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IpcFuzzIT {

  static final int FRAMES = 12_000;
  static final long PROBE_ID = 0x7eadbeefL;

  @TempDir static Path work;
  static DaemonProcess daemon;
  static IpcClient bystander;
  static final Map<ObjectId, Long> checksums = new LinkedHashMap<>();
  static ObjectId bystanderTable;
  static ObjectMeta bystanderMeta;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(work, "256Mi", "--max-frame", "1Mi");
    bystander = daemon.connect();
    Random r = new Random(1);
    ObjectMeta.Builder table = ObjectMeta.builder("bystander::Table").field("rows", 1000L);
    for (int i = 0; i < 8; i++) {
      byte[] data = new byte[i == 0 ? 0 : 1 << (8 + i)];
      r.nextBytes(data);
      ObjectId id = bystander.putBlob(data);
      checksums.put(id, crc(data));
      table.member("column-" + i, id);
    }
    bystanderTable = bystander.putMeta(table.build());
    bystander.putName("bystander-table", bystanderTable);
    bystanderMeta = bystander.getMeta(bystanderTable);
    Thread.sleep(300); // the fuzzers' ids are minted later: no single mutation turns one into these
  }

  @AfterAll
  static void stop() throws Exception {
    if (bystander != null) {
      bystander.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  static long crc(byte[] data) {
    CRC32 c = new CRC32();
    c.update(data);
    return c.getValue();
  }

  /** Valid requests over objects the fuzzer owns (and ids nobody minted), to be sent or mutated. */
  static List<Request> corpus(IpcClient owner) {
    ObjectId blob = owner.putBlob(new byte[] {1, 2, 3, 4});
    ObjectId obj = owner.putMeta(ObjectMeta.builder("fuzz::Thing").field("s", "text").field("n", 7L).field("d", 2.5)
        .field("z", true).jsonField("j", "{\"a\": [1, 2]}").member("b", blob).build());
    owner.putName("fuzz-thing", obj);
    long nobody = 0x1234_5678_9abc_def0L;
    List<Long> ids = List.of(blob.value(), obj.value(), nobody);
    List<Request.Builder> c = new ArrayList<>();
    c.add(Request.newBuilder().setStats(StatsRequest.getDefaultInstance()));
    c.add(Request.newBuilder().setExists(ExistsRequest.newBuilder().setId(obj.value())));
    c.add(Request.newBuilder().setCreateBlob(CreateBlobRequest.newBuilder().setSize(4096)));
    c.add(Request.newBuilder().setCreateBlob(CreateBlobRequest.newBuilder().setSize(5).setSealWithData(true)
        .setData(ByteString.copyFrom(new byte[] {9, 9, 9, 9, 9}))));
    c.add(Request.newBuilder().setCreateBlobs(CreateBlobsRequest.newBuilder()
        .addBlobs(CreateBlobRequest.newBuilder().setSize(100)).addBlobs(CreateBlobRequest.newBuilder().setSize(0))));
    c.add(Request.newBuilder().setSealBlob(SealBlobRequest.newBuilder().setId(blob.value())));
    c.add(Request.newBuilder().setSealBlobs(SealBlobsRequest.newBuilder().addAllIds(ids)));
    c.add(Request.newBuilder().setAbortBlob(AbortBlobRequest.newBuilder().setId(blob.value())));
    c.add(Request.newBuilder().setGetBlobs(GetBlobsRequest.newBuilder().addIds(blob.value()).addIds(blob.value())));
    c.add(Request.newBuilder().setRelease(ReleaseRequest.newBuilder().addIds(blob.value())));
    c.add(Request.newBuilder().setDelete(DeleteRequest.newBuilder().addIds(nobody).setDeep(true)));
    c.add(Request.newBuilder().setPutMeta(PutMetaRequest.newBuilder().setMeta(io.vineyard.proto.ipc.ObjectMeta.newBuilder()
        .setTypename("fuzz::Put").putFields("k", FieldValue.newBuilder().setStringValue("v").build())
        .putFields("j", FieldValue.newBuilder().setJsonValue("[true, null]").build())
        .putMembers("m", io.vineyard.proto.ipc.ObjectMeta.newBuilder().setId(obj.value()).build()))));
    c.add(Request.newBuilder().setGetMeta(GetMetaRequest.newBuilder().setId(obj.value())));
    c.add(Request.newBuilder().setList(ListRequest.newBuilder().setTypenamePattern("fuzz::*").setLimit(10)));
    c.add(Request.newBuilder().setList(ListRequest.newBuilder().setTypenamePattern("*?*").setTopLevel(true)));
    c.add(Request.newBuilder().setPutName(PutNameRequest.newBuilder().setName("fuzz-name").setId(obj.value())));
    c.add(Request.newBuilder().setGetName(GetNameRequest.newBuilder().setName("fuzz-thing")));
    c.add(Request.newBuilder().setDropName(DropNameRequest.newBuilder().setName("fuzz-name")));
    c.add(Request.newBuilder().setPersist(PersistRequest.newBuilder().setId(obj.value())));
    c.add(Request.newBuilder().setInstances(InstancesRequest.getDefaultInstance()));
    c.add(Request.newBuilder().setLocate(LocateRequest.newBuilder().setId(obj.value())));
    c.add(Request.newBuilder().setMigrate(MigrateRequest.newBuilder().setId(nobody)));
    c.add(RawIpc.register().toBuilder()); // a second register
    List<Request> out = new ArrayList<>();
    for (int i = 0; i < c.size(); i++) {
      out.add(c.get(i).setRequestId(i + 1).build());
    }
    return out;
  }

  static byte[] mutate(byte[] in, Random r) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(in);
    byte[] b = out.toByteArray();
    int n = 1 + r.nextInt(4);
    for (int k = 0; k < n; k++) {
      if (b.length == 0) {
        b = new byte[] {(byte) r.nextInt()};
        continue;
      }
      int at = r.nextInt(b.length);
      switch (r.nextInt(5)) {
        case 0 -> b[at] = (byte) r.nextInt();
        case 1 -> b[at] ^= (byte) (1 << r.nextInt(8));
        case 2 -> b[at] = (byte) (r.nextBoolean() ? 0xff : 0x00);
        case 3 -> { // insert
          byte[] x = new byte[b.length + 1];
          System.arraycopy(b, 0, x, 0, at);
          x[at] = (byte) r.nextInt();
          System.arraycopy(b, at, x, at + 1, b.length - at);
          b = x;
        }
        default -> { // drop
          byte[] x = new byte[b.length - 1];
          System.arraycopy(b, 0, x, 0, at);
          System.arraycopy(b, at + 1, x, at, b.length - at - 1);
          b = x;
        }
      }
    }
    return b;
  }

  static byte[] frame(byte[] payload) {
    return ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array();
  }

  /**
   * The answers on one connection until the probe's, or until the daemon closes it; descriptors
   * that come with them are taken and closed.
   */
  static List<Response> readUntilProbe(UnixSocketConnection conn, long seed) {
    List<Response> out = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      ByteBuffer frame;
      try {
        frame = conn.pollFrame(64 << 20);
      } catch (VineyardException closed) {
        return out; // the daemon closed the connection (a protocol error of the burst)
      }
      if (frame == null) {
        continue;
      }
      Response r;
      try {
        r = Response.parseFrom(frame);
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError("seed " + seed + ": an answer that does not parse", e);
      }
      for (int i = 0; i < r.getNewRegionsCount(); i++) {
        Libc.closeQuietly(conn.takeFd());
      }
      out.add(r);
      if (r.getRequestId() == PROBE_ID && r.hasStats()) {
        return out;
      }
    }
    throw new AssertionError("seed " + seed + ": no answer to the probe and no close within 20 s: the daemon hangs");
  }

  /** A connection that ends with a frame it cannot finish: a bad length prefix, or bytes cut short. */
  static int endingConnection(Random r, List<byte[]> corpus) throws IOException {
    int sent = 0;
    try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
      ByteArrayOutputStream burst = new ByteArrayOutputStream();
      if (r.nextBoolean()) {
        burst.writeBytes(frame(RawIpc.register().toByteArray()));
      }
      for (int i = r.nextInt(5); i > 0; i--) {
        burst.writeBytes(frame(mutate(corpus.get(r.nextInt(corpus.size())), r)));
        sent++;
      }
      if (r.nextBoolean()) {
        int len = r.nextBoolean() ? (2 << 20) + r.nextInt(1 << 20) : -1 - r.nextInt(1000);
        burst.writeBytes(ByteBuffer.allocate(4).putInt(len).array()); // over --max-frame, or negative
      } else {
        byte[] whole = frame(mutate(corpus.get(r.nextInt(corpus.size())), r));
        burst.write(whole, 0, 1 + r.nextInt(whole.length - 1));
      }
      sent++;
      ByteBuffer out = ByteBuffer.wrap(burst.toByteArray());
      try {
        while (out.hasRemaining()) {
          ch.write(out);
        }
      } catch (IOException closedMeanwhile) {
        // closed for an earlier frame
      }
    }
    return sent;
  }

  @Test
  void tenThousandHostileFramesHarmNoOneElse() throws Exception {
    StoreStats baseline = bystander.stats();
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    Random r = new Random(seed);
    List<byte[]> corpus = new ArrayList<>();
    try (IpcClient owner = daemon.connect()) {
      corpus(owner).forEach(q -> corpus.add(q.toByteArray()));
      int sent = 0;
      int connections = 0;
      int errors = 0;
      while (sent < FRAMES) {
        connections++;
        if (r.nextInt(100) < 15) {
          sent += endingConnection(r, corpus);
          continue;
        }
        try (UnixSocketConnection conn = UnixSocketConnection.connect(daemon.socket(), Duration.ofSeconds(20))) {
          if (r.nextInt(12) != 0) {
            conn.writeFrame(RawIpc.register());
            Response reg = Response.parseFrom(conn.readFrame(1 << 20));
            assertTrue(reg.hasRegister(), "seed " + seed + ": " + reg);
          }
          try {
            for (int i = 1 + r.nextInt(40); i > 0; i--) {
              int kind = r.nextInt(100);
              byte[] base = corpus.get(r.nextInt(corpus.size()));
              if (kind < 12) {
                conn.writeFrame(base);
              } else if (kind < 80) {
                conn.writeFrame(mutate(base, r));
              } else if (kind < 96) {
                byte[] junk = new byte[r.nextInt(200)];
                r.nextBytes(junk);
                conn.writeFrame(junk);
              } else {
                conn.writeFrame(new byte[0]);
              }
              sent++;
            }
            conn.writeFrame(Request.newBuilder().setRequestId(PROBE_ID).setStats(StatsRequest.getDefaultInstance()).build());
          } catch (VineyardException closedMeanwhile) {
            continue; // the daemon closed it for an earlier frame of the burst
          }
          for (Response resp : readUntilProbe(conn, seed)) {
            if (resp.hasError()) {
              errors++;
              assertTrue(resp.getError().getMessage().length() <= 8192,
                  "seed " + seed + ": an error message of " + resp.getError().getMessage().length() + " characters");
            }
          }
        }
      }
      System.out.printf("IpcFuzzIT seed %d: %d frames over %d connections, %d error answers%n", seed, sent, connections, errors);
      assertTrue(sent >= 10_000);
      assertTrue(errors > 1000, "the fuzzed frames were mostly refused: " + errors + " errors over " + connections + " connections");
    }
    String log = daemon.log();
    assertTrue(!log.contains("request failed unexpectedly") && !log.contains("unexpected error")
        && !log.contains("OutOfMemoryError") && !log.contains("StackOverflowError"),
        "seed " + seed + ": the daemon logged a bug:\n" + log.lines().filter(l -> l.contains("ERROR") || l.contains("Exception")).limit(40).toList());
    assertTrue(daemon.isAlive());

    // The bystander's objects read back intact.
    assertEquals(bystanderMeta, bystander.getMeta(bystanderTable));
    assertEquals(bystanderTable, bystander.getName("bystander-table"));
    for (Map.Entry<ObjectId, Long> e : checksums.entrySet()) {
      try (Blob b = bystander.getBlob(e.getKey())) {
        assertEquals(e.getValue(), crc(b.segment().toArray(ValueLayout.JAVA_BYTE)), "seed " + seed + ": blob " + e.getKey());
      }
    }

    // What the fuzzers stored goes; then every count is back to the baseline.
    Set<ObjectId> mine = new HashSet<>(checksums.keySet());
    mine.add(bystanderTable);
    List<ObjectId> leftovers = new ArrayList<>();
    for (ObjectInfo o : bystander.listObjects(null, 1_000_000).objects()) {
      if (!mine.contains(o.meta().id())) {
        leftovers.add(o.meta().id());
      }
    }
    System.out.printf("IpcFuzzIT: %d objects the fuzzers stored%n", leftovers.size());
    if (!leftovers.isEmpty()) {
      bystander.delete(leftovers, true, false);
    }
    Poll.until(Duration.ofSeconds(20), Duration.ofMillis(50), "the fuzzers' connections to be closed", () -> {
      StoreStats s = bystander.stats();
      return s.clientCount() == baseline.clientCount() && s.unsealedBlobCount() == 0;
    });
    StoreStats after = bystander.stats();
    assertEquals(baseline.objectCount(), after.objectCount(), "seed " + seed);
    assertEquals(baseline.blobCount(), after.blobCount(), "seed " + seed);
    assertEquals(baseline.usedBytes(), after.usedBytes(), "seed " + seed);
    assertEquals(baseline.pinnedBlobCount(), after.pinnedBlobCount(), "seed " + seed);
    assertEquals(baseline.nameCount(), after.nameCount(), "seed " + seed);
    // And the daemon serves a newcomer as before.
    try (IpcClient fresh = daemon.connect()) {
      byte[] data = {4, 5, 6};
      ObjectId id = fresh.putBlob(data);
      try (Blob b = fresh.getBlob(id)) {
        assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE));
      }
      fresh.delete(id);
    }
  }
}
