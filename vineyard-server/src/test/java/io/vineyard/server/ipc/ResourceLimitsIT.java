package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.StoreStats;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.HostPort;
import io.vineyard.internal.RpcAuth;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.proto.rpc.BlobChunk;
import io.vineyard.proto.rpc.FetchBlobRequest;
import io.vineyard.proto.rpc.VineyardGrpc;
import io.vineyard.proto.ipc.Request;
import io.vineyard.server.testing.RawIpc;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that connect and then stop half-way (issue 19, item 6): they must not hold connections,
 * direct memory or a deleted blob's shared memory for longer than the daemon's limits say, and
 * every refusal is answered and logged once with its cause.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ResourceLimitsIT {

  private static final long MIB = 1 << 20;
  private static final int PER_UID = 6;

  @TempDir static Path work;
  static DaemonProcess daemon;
  static IpcClient bystander;
  static final ExecutorService readers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "raw-reader");
    t.setDaemon(true);
    return t;
  });

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(work, "64Mi", "--max-frame", "16Mi", "--max-buffered", "24Mi",
        "--max-connections-per-uid", Integer.toString(PER_UID), "--register-timeout", "1", "--frame-timeout", "3",
        "--stream-stall-timeout", "1.5");
    bystander = daemon.connect();
  }

  @AfterAll
  static void stop() throws Exception {
    if (bystander != null) {
      bystander.close();
    }
    if (daemon != null) {
      daemon.close();
    }
    readers.shutdownNow();
  }

  /** The next frame from the daemon, or null if it closed the connection first; fails after {@code within}. */
  private static Response readWithin(SocketChannel ch, Duration within) throws Exception {
    CompletableFuture<Response> f = CompletableFuture.supplyAsync(() -> {
      try {
        return RawIpc.read(ch);
      } catch (IOException e) {
        return null;
      }
    }, readers);
    try {
      return f.get(within.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("the daemon neither answered nor closed the connection within " + within);
    }
  }

  private static void assertClosedWithin(SocketChannel ch, Duration within, String expectedInError) throws Exception {
    Response r = readWithin(ch, within);
    if (r != null) {
      assertTrue(r.hasError(), r.toString());
      assertTrue(r.getError().getMessage().contains(expectedInError), r.getError().getMessage());
      assertEquals(null, readWithin(ch, within), "closed after the error");
    }
  }

  private static SocketChannel registered() throws Exception {
    SocketChannel ch = RawIpc.connect(daemon.socket());
    RawIpc.send(ch, RawIpc.register());
    Response r = readWithin(ch, Duration.ofSeconds(10));
    assertTrue(r != null && r.hasRegister(), String.valueOf(r));
    return ch;
  }

  /** Sends {@code n} bytes of a frame's payload, without blocking longer than 5 s in all. */
  private static void sendSome(SocketChannel ch, long n) throws IOException {
    ch.configureBlocking(false);
    ByteBuffer b = ByteBuffer.allocate(64 << 10);
    long deadline = System.nanoTime() + 5_000_000_000L;
    long sent = 0;
    while (sent < n && System.nanoTime() < deadline) {
      b.clear().limit((int) Math.min(b.capacity(), n - sent));
      int w = ch.write(b);
      sent += w;
      if (w == 0) {
        Thread.onSpinWait();
      }
    }
    ch.configureBlocking(true);
  }

  private static long direct() {
    return bystander.stats().directMemoryBytes();
  }

  @Test
  void anUnregisteredConnectionIsClosedAfterTheRegisterTimeout() throws Exception {
    try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
      assertClosedWithin(ch, Duration.ofSeconds(10), "--register-timeout");
    }
    assertTrue(daemon.log().contains("closed unregistered connection"), daemon.log());
  }

  @Test
  void beforeRegisteringAFrameMayHoldOnlyASmallRequest() throws Exception {
    try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
      RawIpc.send(ch, 8 << 20, new byte[1024]); // 8 MiB announced: under --max-frame, but no register is that big
      Response r = readWithin(ch, Duration.ofSeconds(10));
      assertTrue(r != null && r.hasError(), String.valueOf(r));
      assertEquals(ErrorCode.PROTOCOL_ERROR.code(), r.getError().getCode());
      assertTrue(r.getError().getMessage().contains("before registering"), r.getError().getMessage());
      assertEquals(null, readWithin(ch, Duration.ofSeconds(10)));
    }
  }

  @Test
  void incompleteFramesAreBoundedInAllAndClosedAfterTheFrameTimeout() throws Exception {
    long before = direct();
    List<SocketChannel> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        SocketChannel ch = registered();
        stalled.add(ch);
        RawIpc.send(ch, 15 << 20, new byte[0]); // a 15 MiB request ...
        sendSome(ch, 12 * MIB); // ... of which 12 MiB come, then nothing
      }
      // 48 MiB sent in all; the daemon holds at most --max-buffered (24 MiB) of it, and serves others.
      StoreStats during = bystander.stats();
      assertTrue(during.directMemoryBytes() - before <= 24 * MIB + 8 * MIB,
          "direct memory grew by " + (during.directMemoryBytes() - before) / MIB + " MiB with 4 stalled 12 MiB frames");
      try (IpcClient other = daemon.connect()) {
        assertTrue(other.exists(other.putBlob(new byte[] {1, 2, 3})));
      }
      for (SocketChannel ch : stalled) {
        assertClosedWithin(ch, Duration.ofSeconds(15), "--frame-timeout");
      }
    } finally {
      for (SocketChannel ch : stalled) {
        ch.close();
      }
    }
    Poll.until(Duration.ofSeconds(15), Duration.ofMillis(100), "direct memory back near its level before",
        () -> direct() - before <= 8 * MIB);
    String log = daemon.log();
    assertTrue(log.contains("--frame-timeout"), log);
    assertEquals(1, count(log, "(--frame-timeout) (more of these"), "logged once with its cause:\n" + log);
  }

  @Test
  void connectionsOverThePerUserLimitAreRefusedAndLoggedOnce() throws Exception {
    List<SocketChannel> open = new ArrayList<>();
    try {
      Response refused = null;
      for (int i = 0; i < PER_UID + 1 && refused == null; i++) {
        SocketChannel ch = RawIpc.connect(daemon.socket());
        open.add(ch);
        RawIpc.send(ch, RawIpc.register());
        Response r = readWithin(ch, Duration.ofSeconds(10));
        if (r == null || r.hasError()) {
          refused = r;
        }
      }
      // The bystander holds one connection: the sixth here is the seventh of this user.
      assertEquals(PER_UID, open.size(), "refused at the limit");
      assertTrue(refused != null && refused.getError().getCode() == ErrorCode.UNAVAILABLE.code(), String.valueOf(refused));
      assertTrue(refused.getError().getMessage().contains("--max-connections-per-uid"), refused.getError().getMessage());
      for (int i = 0; i < 3; i++) {
        try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
          Response r = readWithin(ch, Duration.ofSeconds(10));
          assertTrue(r == null || r.hasError(), String.valueOf(r));
        }
      }
      String log = daemon.log();
      assertEquals(1, count(log, "--max-connections-per-uid"), "one line for four refusals:\n" + log);
      open.removeLast().close();
      open.removeLast().close();
      // A slot is free again once the daemon has seen the close.
      Poll.ignoring(io.vineyard.VineyardException.class).await(Duration.ofSeconds(10), Duration.ofMillis(100), "a connection admitted again",
          () -> {
            try (IpcClient c = daemon.connect()) {
              return c.stats().clientCount() >= 1;
            }
          });
    } finally {
      for (SocketChannel ch : open) {
        ch.close();
      }
    }
  }

  @Test
  void aFetchStreamTheReceiverStopsReadingIsEndedAndItsDeletedBlobFreed() throws Exception {
    StoreStats base = bystander.stats();
    ObjectId blob;
    try (var w = bystander.createBlob(16 * MIB)) {
      w.segment().fill((byte) 7);
      blob = w.seal();
    }
    HostPort rpc = HostPort.parse(daemon.info().rpcEndpoint(), 9600);
    String token = RpcAuth.readTokens(Path.of(daemon.socket() + ".token")).getFirst();
    ManagedChannel channel = NettyChannelBuilder.forAddress(rpc.host(), rpc.port()).usePlaintext().build();
    AtomicReference<Status> closed = new AtomicReference<>();
    try {
      ClientCall<FetchBlobRequest, BlobChunk> call = channel.newCall(VineyardGrpc.getFetchBlobMethod(), CallOptions.DEFAULT);
      Metadata headers = new Metadata();
      headers.put(RpcAuth.AUTHORIZATION, RpcAuth.BEARER + token);
      call.start(new ClientCall.Listener<>() {
        @Override
        public void onClose(Status status, Metadata trailers) {
          closed.set(status);
        }
      }, headers);
      call.request(1); // one chunk, then the receiver reads nothing more
      call.sendMessage(FetchBlobRequest.newBuilder().setId(blob.value()).setChunkSize(64 << 10).build());
      call.halfClose();
      Poll.until(Duration.ofSeconds(10), Duration.ofMillis(20), "the stream to pin the blob",
          () -> bystander.stats().pinnedBlobCount() == base.pinnedBlobCount() + 1);
      bystander.delete(List.of(blob), false, false); // deferred: the stream holds it
      assertTrue(bystander.stats().usedBytes() >= base.usedBytes() + 16 * MIB);
      StoreStats after = Poll.until(Duration.ofSeconds(15), Duration.ofMillis(50), "the stalled stream to let go",
          bystander::stats, s -> s.pinnedBlobCount() == base.pinnedBlobCount() && s.usedBytes() == base.usedBytes());
      assertEquals(base.usedBytes(), after.usedBytes(), "the deleted blob's memory is free");
      call.request(Integer.MAX_VALUE); // the chunks queued before the end, then the status
      Poll.until(Duration.ofSeconds(10), Duration.ofMillis(20), "the call to end", () -> closed.get() != null);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, closed.get().getCode(), closed.get().toString());
      assertTrue(daemon.log().contains("--stream-stall-timeout"), daemon.log());
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void theLimitsAreFlagsCheckedAtStart() throws Exception {
    try (DaemonProcess d = DaemonProcess.start(java.nio.file.Files.createDirectories(work.resolve("total")), "16Mi",
        "--max-connections", "2")) {
      // The start-up check's connection may not have been closed on the daemon's side yet.
      try (IpcClient a = d.connect();
          IpcClient b = io.vineyard.testing.Poll.ignoring(io.vineyard.VineyardException.class)
              .await(Duration.ofSeconds(10), Duration.ofMillis(20), "a second connection", d::connect, c -> true)) {
        var e = org.junit.jupiter.api.Assertions.assertThrows(io.vineyard.VineyardException.class, d::connect);
        assertTrue(e.getMessage().contains("--max-connections"), e.getMessage());
        assertFalse(e.getMessage().contains("per-uid"), e.getMessage());
        assertEquals(2, a.stats().clientCount());
        assertEquals(2, b.stats().clientCount());
      }
    }
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  static {
    // referenced so that the request classes are loaded before any timing matters
    Request.newBuilder().setStats(StatsRequest.getDefaultInstance()).build();
  }
}
