package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.Listing;
import io.vineyard.client.RpcClient;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.CreateBlobsRequest;
import io.vineyard.proto.ipc.FieldValue;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.PutMetaRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.server.testing.RawIpc;
import io.vineyard.testing.DaemonProcess;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one request may cost a real daemon (docs/operations.md, "Request limits"): each request over
 * a limit is refused with INVALID_ARGUMENT on a connection that stays up, nothing runs the daemon out
 * of heap or stack, every request gets an answer, and the other clients go on as before.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class RequestLimitsIT {

  @TempDir static Path work;
  static DaemonProcess daemon;
  static IpcClient bystander;
  static ObjectId held;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(Files.createDirectory(work.resolve("d")), "256Mi");
    bystander = daemon.connect();
    held = bystander.putMeta(ObjectMeta.builder("test::Held").field("x", 1L).member("b", bystander.putBlob(new byte[] {1, 2, 3})).build());
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

  private static void assertServing() {
    assertTrue(daemon.isAlive());
    assertEquals(1L, bystander.getMeta(held).getLong("x"));
    assertTrue(bystander.listObjects(null, 0).objects().stream().anyMatch(o -> o.meta().id().equals(held)));
  }

  private static Request putMeta(long rid, io.vineyard.proto.ipc.ObjectMeta.Builder meta) {
    return Request.newBuilder().setRequestId(rid).setPutMeta(PutMetaRequest.newBuilder().setMeta(meta)).build();
  }

  private static io.vineyard.proto.ipc.ObjectMeta.Builder meta(String typename) {
    return io.vineyard.proto.ipc.ObjectMeta.newBuilder().setTypename(typename);
  }

  /** Sends one request and reads its answer, which must be an error with {@code code}, for that request. */
  private static String refused(SocketChannel ch, Request r, ErrorCode code) throws Exception {
    RawIpc.send(ch, r);
    Response resp = RawIpc.read(ch);
    assertTrue(resp.hasError(), resp.toString());
    assertEquals(code.code(), resp.getError().getCode(), resp.getError().getMessage());
    assertEquals(r.getRequestId(), resp.getRequestId());
    return resp.getError().getMessage();
  }

  private static void stillAnswers(SocketChannel ch) throws Exception {
    RawIpc.send(ch, Request.newBuilder().setRequestId(99).setStats(StatsRequest.getDefaultInstance()).build());
    Response r = RawIpc.read(ch);
    assertTrue(r.hasStats(), "the connection stays up: " + r);
  }

  /**
   * Such metadata was stored (or closed the connection as a protocol error), and from then on every
   * client's listing failed while parsing it.
   */
  @Test
  void metadataThatWouldBreakListingsIsRefusedOnTheWayIn() throws Exception {
    long blob = bystander.putBlob(new byte[] {5}).value();
    try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
      RawIpc.send(ch, RawIpc.register());
      assertTrue(RawIpc.read(ch).hasRegister());
      String m = refused(ch, putMeta(1, meta("test::Bad").putFields("unset", FieldValue.getDefaultInstance())), ErrorCode.INVALID_ARGUMENT);
      assertTrue(m.contains("unset"), m);
      stillAnswers(ch);
      refused(ch, putMeta(2, meta("test::Bad").putFields("", FieldValue.newBuilder().setIntValue(1).build())), ErrorCode.INVALID_ARGUMENT);
      refused(ch, putMeta(3, meta("test::Bad").putFields("j", FieldValue.newBuilder().setJsonValue("{\"a\": ").build())),
          ErrorCode.INVALID_ARGUMENT);
      refused(ch, putMeta(4, meta("test::Bad").putMembers("m", io.vineyard.proto.ipc.ObjectMeta.getDefaultInstance())),
          ErrorCode.INVALID_ARGUMENT);
      refused(ch, putMeta(5, meta("test::Bad").putMembers("", io.vineyard.proto.ipc.ObjectMeta.newBuilder().setId(blob).build())),
          ErrorCode.INVALID_ARGUMENT);
      refused(ch, putMeta(6, meta("test::Bad" + "x".repeat(5000))), ErrorCode.INVALID_ARGUMENT); // over --max-name-size
      refused(ch, putMeta(7, meta("   ")), ErrorCode.INVALID_ARGUMENT);
      refused(ch, putMeta(8, meta("test::Bad").setNbytes(-5)), ErrorCode.INVALID_ARGUMENT);
      // A member given whole: only its id is used, whatever it carries.
      RawIpc.send(ch, putMeta(9, meta("test::Good").putMembers("m", meta("whatever")
          .setId(blob).putFields("junk", FieldValue.getDefaultInstance()).build())));
      Response ok = RawIpc.read(ch);
      assertTrue(ok.hasPutMeta(), ok.toString());
      stillAnswers(ch);
    }
    assertTrue(bystander.list("test::Bad*", 0).isEmpty());
    try (IpcClient fresh = daemon.connect()) {
      assertFalse(fresh.listObjects(null, 0).objects().isEmpty(), "listings keep working for everyone");
    }
    assertServing();
  }

  /** One get_blobs carrying 6,000,000 copies of an id (60 MB, under the frame limit) ran the daemon out of heap. */
  @Test
  void requestsNamingTooManyIdsAreRefusedBeforeTheyCostAnything() throws Exception {
    long blob = bystander.putBlob(new byte[] {7}).value();
    StoreStats before = bystander.stats();
    try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
      RawIpc.send(ch, RawIpc.register());
      assertTrue(RawIpc.read(ch).hasRegister());
      GetBlobsRequest.Builder g = GetBlobsRequest.newBuilder();
      for (int i = 0; i < 6_000_000; i++) {
        g.addIds(blob);
      }
      String m = refused(ch, Request.newBuilder().setRequestId(1).setGetBlobs(g).build(), ErrorCode.INVALID_ARGUMENT);
      assertTrue(m.contains("--max-request-ids"), m);
      stillAnswers(ch);
      CreateBlobsRequest.Builder c = CreateBlobsRequest.newBuilder();
      for (int i = 0; i < 200_000; i++) {
        c.addBlobs(CreateBlobRequest.newBuilder().setSize(0));
      }
      refused(ch, Request.newBuilder().setRequestId(2).setCreateBlobs(c).build(), ErrorCode.INVALID_ARGUMENT);
      stillAnswers(ch);
    }
    StoreStats after = bystander.stats();
    assertEquals(before.pinnedBlobCount(), after.pinnedBlobCount());
    assertEquals(before.blobCount(), after.blobCount());
    assertTrue(daemon.log().lines().noneMatch(l -> l.contains("OutOfMemoryError")), daemon.log());
    assertServing();
  }

  /**
   * 28 objects with 16 MiB fields made the 29th run the daemon out of heap, and a full listing then
   * got no answer at all: the client waited its whole timeout.
   */
  @Test
  void bigMetadataFillsItsBudgetNotTheHeapAndListingsStillAnswer() throws Exception {
    String big = "m".repeat(16_000_000);
    List<ObjectId> stored = new ArrayList<>();
    try (IpcClient c = IpcClient.builder().socket(daemon.socket()).timeout(Duration.ofSeconds(60)).connect()) {
      VineyardException tooLarge = assertThrows(VineyardException.class,
          () -> c.putMeta(ObjectMeta.builder("test::Fat").field("f", big + "m".repeat(1 << 20)).build()));
      assertEquals(ErrorCode.INVALID_ARGUMENT, tooLarge.code(), tooLarge.getMessage());
      assertTrue(tooLarge.getMessage().contains("--max-field-size"), tooLarge.getMessage());
      VineyardException full = null;
      for (int i = 0; i < 29 && full == null; i++) {
        try {
          stored.add(c.putMeta(ObjectMeta.builder("test::Fat").field("f", big).field("i", (long) i).build()));
        } catch (VineyardException e) {
          full = e;
        }
      }
      assertTrue(full != null, "the metadata budget (half of the daemon's 256 MiB heap) ran out first");
      assertEquals(ErrorCode.OUT_OF_MEMORY, full.code(), full.getMessage());
      assertTrue(stored.size() >= 3, "stored " + stored.size());
      // Every listing is answered: cut to what fits in a frame, and marked truncated.
      long t0 = System.nanoTime();
      Listing all = c.listObjects(null, 0);
      assertTrue(all.truncated(), "a listing over the frame limit is cut");
      assertTrue(all.objects().size() < stored.size() + 1, "cut to what fits");
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30));
      assertEquals(0L, c.getMeta(stored.getFirst()).getLong("i"));
      // An answer that cannot fit one frame is an error saying so.
      ObjectMeta.Builder all3 = ObjectMeta.builder("test::FatTree");
      for (int i = 0; i < 5 && i < stored.size(); i++) {
        all3.member("m" + i, stored.get(i));
      }
      if (stored.size() >= 5) {
        ObjectId tree = c.putMeta(all3.build());
        VineyardException e = assertThrows(VineyardException.class, () -> c.getMeta(tree));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("--max-frame"), e.getMessage());
        c.delete(List.of(tree), false, false);
      }
      c.delete(stored, false, false);
      c.putMeta(ObjectMeta.builder("test::Fat").field("f", big).build()); // room again
    }
    assertTrue(daemon.log().lines().noneMatch(l -> l.contains("OutOfMemoryError")));
    assertServing();
  }

  /** A chain of {@code levels} (a blob and levels - 1 objects above it); returns the top. */
  private static ObjectId chain(IpcClient c, int levels) {
    ObjectId top = c.putBlob(new byte[] {42});
    for (int i = 1; i < levels; i++) {
      top = c.putMeta(ObjectMeta.builder("test::Level").field("level", (long) i).member("down", top).build());
    }
    return top;
  }

  private static int depth(ObjectMeta m) {
    int d = 1;
    while (!m.members().isEmpty()) {
      m = m.member("down");
      d++;
    }
    return d;
  }

  /**
   * The client could not read get_meta of an object 50 levels deep ("malformed response": protobuf's
   * limit of 100 nested messages, two a level), the daemon overflowed its stack at 2,000 and a deep
   * delete of 20,000 levels failed part-way. Trees have a depth limit, enforced at put, and anything
   * within it reads back, over IPC and gRPC.
   */
  @Test
  void treesUpToTheDepthLimitReadBackAndDeeperOnesAreRefused() throws Exception {
    StoreStats before = bystander.stats();
    ObjectId top = chain(bystander, 64);
    assertEquals(64, depth(bystander.getMeta(top)));
    try (RpcClient rpc = RpcClient.connect(daemon.info().rpcEndpoint())) {
      assertEquals(64, depth(rpc.getMeta(top)));
    }
    ObjectId deepest = top;
    VineyardException e = assertThrows(VineyardException.class,
        () -> bystander.putMeta(ObjectMeta.builder("test::Level").member("down", deepest).build()));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains("--max-depth"), e.getMessage());
    assertEquals(64, bystander.delete(List.of(top), false, true).size());
    assertEquals(before.objectCount(), bystander.stats().objectCount());
    assertEquals(before.usedBytes(), bystander.stats().usedBytes());

    try (DaemonProcess deep = DaemonProcess.start(Files.createDirectory(work.resolve("deep")), "64Mi", "--max-depth", "256");
        IpcClient c = deep.connect();
        RpcClient rpc = RpcClient.connect(deep.info().rpcEndpoint())) {
      ObjectId t = chain(c, 256);
      assertEquals(256, depth(c.getMeta(t)));
      assertEquals(256, depth(rpc.getMeta(t)));
      assertEquals(256, depth(c.getMetaAsync(t).join()));
      assertEquals(ErrorCode.INVALID_ARGUMENT,
          assertThrows(VineyardException.class, () -> c.putMeta(ObjectMeta.builder("test::Level").member("down", t).build())).code());
      assertEquals(256, c.delete(List.of(t), false, true).size());
      assertEquals(0, c.stats().objectCount());
      assertEquals(0, c.stats().usedBytes());
    }
    assertServing();
  }

  /**
   * Objects whose members all name the object below: a few small puts, then one get_meta expanded
   * 3.4 million objects and ran the daemon out of heap. The put of such a tree is refused; one just
   * under the limit reads back over both transports, each repeated member spelt out where it appears.
   */
  @Test
  void treesThatSpellOutTooManyObjectsAreRefusedAndSharedMembersReadBack() throws Exception {
    try (DaemonProcess d = DaemonProcess.start(Files.createDirectory(work.resolve("dag")), "16Mi", "--max-tree-objects", "30000");
        IpcClient c = d.connect();
        RpcClient rpc = RpcClient.connect(d.info().rpcEndpoint())) {
      ObjectId below = c.putBlob(new byte[] {1, 2, 3});
      for (int level = 0; level < 2; level++) {
        ObjectMeta.Builder b = ObjectMeta.builder("test::Wide");
        for (int i = 0; i < 150; i++) {
          b.member("m" + i, below);
        }
        below = c.putMeta(b.build());
      }
      ObjectMeta.Builder top = ObjectMeta.builder("test::Wide");
      for (int i = 0; i < 150; i++) {
        top.member("m" + i, below);
      }
      VineyardException e = assertThrows(VineyardException.class, () -> c.putMeta(top.build()));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("--max-tree-objects"), e.getMessage());
      // 1 + 150 * (1 + 150) = 22,651 objects spelt out, of three distinct ones.
      for (ObjectMeta tree : List.of(c.getMeta(below), rpc.getMeta(below))) {
        assertEquals(150, tree.members().size());
        tree.members().values().forEach(m -> assertEquals(150, m.members().size()));
        assertEquals(3, tree.member("m149").member("m0").nbytes());
      }
      assertTrue(d.isAlive());
    }
    assertServing();
  }

  @Test
  void aDepthLimitOverTheCeilingIsAUsageError() throws Exception {
    io.vineyard.testing.ChildJvm.Result r = io.vineyard.testing.ChildJvm.run(
        work.resolve("bad-depth.log"), 60, DaemonProcess.MAIN_CLASS,
        "--socket", work.resolve("bad.sock").toString(), "--max-depth", "257");
    assertEquals(2, r.exitCode(), r.output());
    assertTrue(r.output().contains("--max-depth"), r.output());
  }

  /**
   * An answer over the frame limit is an error that hands out nothing: a get_blobs whose answer
   * would not fit leaves no pin behind, and a listing is cut to what fits.
   */
  @Test
  void anAnswerOverTheFrameLimitIsAnErrorAndHandsOutNothing() throws Exception {
    try (DaemonProcess small = DaemonProcess.start(Files.createDirectory(work.resolve("frame")), "16Mi", "--max-frame", "64Ki");
        IpcClient c = small.connect()) {
      long blob = c.putBlob(new byte[] {1, 2, 3}).value();
      try (SocketChannel ch = RawIpc.connect(small.socket())) {
        RawIpc.send(ch, RawIpc.register());
        assertTrue(RawIpc.read(ch).hasRegister());
        GetBlobsRequest.Builder g = GetBlobsRequest.newBuilder();
        for (int i = 0; i < 5000; i++) {
          g.addIds(blob); // 50 KB of request, 125 KB of answer
        }
        String m = refused(ch, Request.newBuilder().setRequestId(1).setGetBlobs(g).build(), ErrorCode.INVALID_ARGUMENT);
        assertTrue(m.contains("--max-frame"), m);
        assertEquals(0, c.stats().pinnedBlobCount(), "the pins the answer would have carried are dropped");
        stillAnswers(ch);
      }
      for (int i = 0; i < 60; i++) {
        c.putMeta(ObjectMeta.builder("test::Wordy").field("text", "w".repeat(2000)).build());
      }
      Listing l = c.listObjects("test::Wordy", 0);
      assertTrue(l.truncated() && l.objects().size() < 60 && l.objects().size() > 10, l.objects().size() + " listed");
    }
  }

  /** A table of thousands of columns is far from every limit. */
  @Test
  void aTableOfThousandsOfColumnsStillWorks() {
    List<byte[]> columns = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      columns.add(new byte[] {(byte) i});
    }
    List<ObjectId> blobs = bystander.putBlobs(columns);
    ObjectMeta.Builder t = ObjectMeta.builder("test::WideTable");
    StringBuilder names = new StringBuilder("[");
    for (int i = 0; i < blobs.size(); i++) {
      t.member("column_" + i, blobs.get(i)).field("column_" + i + "_type", "int8");
      names.append(i == 0 ? "" : ",").append("\"column_").append(i).append('"');
    }
    t.jsonField("columns", names.append(']').toString());
    ObjectId table = bystander.putMeta(t.build());
    ObjectMeta back = bystander.getMeta(table);
    assertEquals(5000, back.members().size());
    assertEquals(5001, back.fields().size());
    List<io.vineyard.client.Blob> got = bystander.getBlobs(blobs);
    assertEquals(5000, got.size());
    got.forEach(io.vineyard.client.Blob::close);
    assertEquals(5001, bystander.delete(List.of(table), false, true).size());
  }

  /**
   * GetName with a 9,000-character name echoed it whole: over gRPC the status overflowed the client's
   * 8 KiB of headers and the client saw "INTERNAL http2 exception". Echoed input is cut.
   */
  @Test
  void longClientInputIsCutInErrorMessages() throws Exception {
    String name = "n".repeat(9000);
    String unicode = "\u00e9\u4e2d".repeat(5000); // percent-encoded in a status: up to 9 bytes a character
    VineyardException ipc = assertThrows(VineyardException.class, () -> bystander.getName(name));
    assertEquals(ErrorCode.NOT_FOUND, ipc.code());
    assertTrue(ipc.getMessage().length() < 1000, ipc.getMessage());
    assertTrue(ipc.getMessage().contains("9000 characters"), ipc.getMessage());
    VineyardException put = assertThrows(VineyardException.class, () -> bystander.putName(name, held));
    assertEquals(ErrorCode.INVALID_ARGUMENT, put.code());
    assertTrue(put.getMessage().length() < 1000, put.getMessage());
    try (RpcClient rpc = RpcClient.connect(daemon.info().rpcEndpoint())) {
      for (String n : List.of(name, unicode, "\n".repeat(9000))) {
        VineyardException e = assertThrows(VineyardException.class, () -> rpc.getName(n));
        // Not found, or (control characters) not a name at all; never the transport's INTERNAL.
        assertTrue(e.code() == ErrorCode.NOT_FOUND || e.code() == ErrorCode.INVALID_ARGUMENT, e.getMessage());
        assertTrue(e.getMessage().length() < 2048, e.getMessage());
      }
      VineyardException pattern = assertThrows(VineyardException.class, () -> rpc.listObjects("*".repeat(9000), 0, false));
      assertEquals(ErrorCode.INVALID_ARGUMENT, pattern.code(), pattern.getMessage());
    }
    assertServing();
  }

  /**
   * An answer the daemon could not write (here: no direct memory for its frame) vanished: the client
   * waited its whole timeout and nothing was logged. Now the connection is closed at once, with the
   * cause in the log, and the daemon goes on serving.
   */
  @Test
  void anAnswerThatCannotBeSentClosesTheConnectionWithALoggedCause() throws Exception {
    try (DaemonProcess small = DaemonProcess.startWithJvmOptions(Files.createDirectory(work.resolve("small")),
        List.of("-XX:MaxDirectMemorySize=40m"), "16Mi")) {
      ObjectId tree;
      try (IpcClient c = small.connect()) {
        String part = "p".repeat(14_000_000);
        ObjectMeta.Builder b = ObjectMeta.builder("test::Tree");
        for (int i = 0; i < 3; i++) {
          b.member("part" + i, c.putMeta(ObjectMeta.builder("test::Part").field("f", part).build()));
        }
        tree = c.putMeta(b.build());
      }
      try (IpcClient c = IpcClient.builder().socket(small.socket()).timeout(Duration.ofSeconds(60)).connect()) {
        long t0 = System.nanoTime();
        VineyardException e = assertThrows(VineyardException.class, () -> c.getMeta(tree)); // a 42 MB answer
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        assertEquals(ErrorCode.UNAVAILABLE, e.code(), e.getMessage());
        assertTrue(seconds < 30, "the client learnt it at once, not after its timeout: " + seconds + " s");
      }
      assertTrue(small.log().contains("could not be sent"), small.log());
      try (IpcClient c = small.connect()) {
        assertEquals(4, c.stats().objectCount());
      }
    }
  }
}
