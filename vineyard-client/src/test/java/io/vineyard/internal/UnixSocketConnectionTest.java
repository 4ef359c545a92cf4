package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UnixSocketConnectionTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;

  Path socketPath;
  private ServerSocketChannel server;
  private Thread peerThread;
  private final AtomicReference<Throwable> peerFailure = new AtomicReference<>();

  /** Opens the connection under test: the native one here, the JDK-channel one in a subclass. */
  UnixSocketConnection open(Path path, Duration timeout) {
    return UnixSocketConnection.connect(path, timeout);
  }

  /** What the fake daemon does with one accepted connection. */
  private interface PeerScript {
    void run(SocketChannel ch) throws Exception;
  }

  @BeforeEach
  void listen() throws IOException {
    socketPath = dir.resolve("s.sock");
    assertTrue(
        socketPath.toString().getBytes(StandardCharsets.UTF_8).length < 100,
        "temp dir path too long for a UNIX socket: " + socketPath);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socketPath));
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    if (peerThread != null) {
      peerThread.join(10_000);
      assertFalse(peerThread.isAlive(), "peer thread did not finish");
    }
  }

  /** Accepts one connection on a background thread and runs the script on it, then closes it. */
  private void peer(PeerScript script) {
    peerThread =
        new Thread(
            () -> {
              try (SocketChannel ch = server.accept()) {
                script.run(ch);
              } catch (Throwable t) {
                peerFailure.set(t);
              }
            },
            "fake-daemon");
    peerThread.setDaemon(true);
    peerThread.start();
  }

  /** Waits for the peer script and fails the test with its exception, if it threw one. */
  private void awaitPeer() throws Exception {
    peerThread.join(20_000);
    assertFalse(peerThread.isAlive(), "peer thread did not finish");
    Throwable t = peerFailure.get();
    if (t != null) {
      throw new AssertionError("fake daemon failed", t);
    }
  }

  private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) {
        throw new IOException("EOF after " + b.position() + " of " + b.limit() + " bytes");
      }
    }
  }

  private static byte[] frame(byte[] payload) {
    return ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array();
  }

  private static byte[] header(long length) {
    return ByteBuffer.allocate(4).putInt((int) length).array();
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  private static byte[] randomPayload(Random r, int size) {
    byte[] p = new byte[size];
    r.nextBytes(p);
    return p;
  }

  private UnixSocketConnection connect() {
    return open(socketPath, TIMEOUT);
  }

  private static void assertUnavailable(Runnable r) {
    VineyardException e = assertThrows(VineyardException.class, r::run);
    assertEquals(ErrorCode.UNAVAILABLE, e.code(), e.getMessage());
  }

  // ---------------------------------------------------------------- reading frames

  @Test
  void framesSplitIntoOddFragmentsArriveIntactAndInOrder() throws Exception {
    Random r = new Random(1234);
    // Small frames first so the 64 KiB buffer is part-used when larger ones straddle its end; then
    // frames larger than the buffer (forcing growth), zero-length ones, and small ones after them.
    int[] sizes = {1, 0, 3, 17, 1000, 30_000, 20_000, 40_000, 65_532, 65_533, 70_000, 0, 5, 200_000, 0, 0, 123_457, 7, 1};
    List<byte[]> payloads = new ArrayList<>();
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    for (int size : sizes) {
      byte[] p = randomPayload(r, size);
      payloads.add(p);
      stream.writeBytes(frame(p));
    }
    byte[] all = stream.toByteArray();
    peer(
        ch -> {
          Random fr = new Random(99);
          int pos = 0;
          int sleeps = 0;
          while (pos < all.length) {
            // Odd fragment sizes, from a single byte up to a few pages, cutting through headers too.
            int n = Math.min(all.length - pos, 1 + 2 * fr.nextInt(fr.nextBoolean() ? 3 : 4000));
            writeFully(ch, ByteBuffer.wrap(all, pos, n));
            pos += n;
            if (sleeps < 40 && fr.nextInt(8) == 0) {
              Thread.sleep(1);
              sleeps++;
            }
          }
        });
    try (UnixSocketConnection c = connect()) {
      for (int i = 0; i < payloads.size(); i++) {
        ByteBuffer got = c.readFrame(1 << 20);
        assertArrayEquals(payloads.get(i), bytes(got), "frame " + i + " of " + sizes[i] + " bytes");
      }
      assertFalse(c.isClosed());
    }
    awaitPeer();
  }

  @Test
  void framesSentInOneBurstAreAllDelivered() throws Exception {
    Random r = new Random(5);
    List<byte[]> payloads = new ArrayList<>();
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    for (int i = 0; i < 500; i++) {
      byte[] p = randomPayload(r, i % 50 == 0 ? 70_000 + i : r.nextInt(300));
      payloads.add(p);
      stream.writeBytes(frame(p));
    }
    byte[] all = stream.toByteArray();
    peer(ch -> writeFully(ch, ByteBuffer.wrap(all)));
    try (UnixSocketConnection c = connect()) {
      for (int i = 0; i < payloads.size(); i++) {
        assertArrayEquals(payloads.get(i), bytes(c.readFrame(1 << 20)), "frame " + i);
      }
    }
    awaitPeer();
  }

  @Test
  void aBufferedFrameIsOnlyOneReceivedWholeAlready() throws Exception {
    byte[] a = randomPayload(new Random(8), 100);
    byte[] b = randomPayload(new Random(9), 200);
    byte[] c2 = randomPayload(new Random(10), 300);
    byte[] partial = frame(c2);
    CountDownLatch rest = new CountDownLatch(1);
    peer(ch -> {
      ByteArrayOutputStream first = new ByteArrayOutputStream();
      first.writeBytes(frame(a));
      first.writeBytes(frame(b));
      first.write(partial, 0, 10); // the third frame's start only
      writeFully(ch, ByteBuffer.wrap(first.toByteArray()));
      rest.await(10, TimeUnit.SECONDS);
      writeFully(ch, ByteBuffer.wrap(partial, 10, partial.length - 10));
    });
    try (UnixSocketConnection c = connect()) {
      assertArrayEquals(a, bytes(c.readFrame(1 << 20)));
      // b came in the same read: one small write of the peer arrives whole on a UNIX stream socket.
      ByteBuffer got = c.bufferedFrame(1 << 20);
      assertTrue(got != null, "the second frame was received with the first");
      assertArrayEquals(b, bytes(got));
      assertEquals(null, c.bufferedFrame(1 << 20), "the third frame is not whole yet: nothing, and no waiting");
      rest.countDown();
      assertArrayEquals(c2, bytes(c.readFrame(1 << 20)));
      assertEquals(null, c.bufferedFrame(1 << 20));
    }
    awaitPeer();
  }

  @Test
  void sendBuffersGrownByABigFrameShrinkBackWhenFramesAreSmallAgain() throws Exception {
    byte[] big = randomPayload(new Random(12), 3 << 20);
    int small = 20;
    long expected = 4L + big.length + small * (4L + 100);
    peer(ch -> {
      ByteBuffer sink = ByteBuffer.allocate(1 << 16);
      long got = 0;
      while (got < expected) {
        sink.clear();
        int n = ch.read(sink);
        if (n < 0) {
          throw new IOException("EOF after " + got + " bytes");
        }
        got += n;
      }
    });
    try (UnixSocketConnection c = connect()) {
      long initial = c.sendBufferBytes();
      c.writeFrame(big);
      assertTrue(c.sendBufferBytes() >= big.length, "grown for the big frame: " + c.sendBufferBytes());
      for (int i = 0; i < small; i++) {
        c.writeFrame(randomPayload(new Random(i), 100));
      }
      assertEquals(initial, c.sendBufferBytes(), "both buffers back to their first size");
    }
    awaitPeer();
  }

  @Test
  void aFrameOfExactlyMaxFrameIsAccepted() throws Exception {
    byte[] p = randomPayload(new Random(3), 1000);
    peer(ch -> writeFully(ch, ByteBuffer.wrap(frame(p))));
    try (UnixSocketConnection c = connect()) {
      assertArrayEquals(p, bytes(c.readFrame(1000)));
    }
    awaitPeer();
  }

  @Test
  void aFrameOverMaxFrameClosesTheConnection() throws Exception {
    byte[] p = new byte[1001];
    peer(ch -> writeFully(ch, ByteBuffer.wrap(frame(p))));
    UnixSocketConnection c = connect();
    try {
      VineyardException e = assertThrows(VineyardException.class, () -> c.readFrame(1000));
      assertEquals(ErrorCode.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("1001"), e.getMessage());
      assertTrue(c.isClosed(), "a broken frame must close the connection");
      assertUnavailable(() -> c.readFrame(1 << 20));
      assertUnavailable(() -> c.writeFrame(new byte[1]));
    } finally {
      c.close();
    }
    awaitPeer();
  }

  @Test
  void theLengthPrefixIsUnsigned() throws Exception {
    peer(ch -> writeFully(ch, ByteBuffer.wrap(header(0xFFFF_FFFFL))));
    try (UnixSocketConnection c = connect()) {
      VineyardException e = assertThrows(VineyardException.class, () -> c.readFrame(Integer.MAX_VALUE));
      assertEquals(ErrorCode.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("4294967295"), e.getMessage());
      assertTrue(c.isClosed());
    }
    awaitPeer();
  }

  @Test
  void eofBetweenFramesIsUnavailable() throws Exception {
    byte[] p = {1, 2, 3};
    peer(ch -> writeFully(ch, ByteBuffer.wrap(frame(p))));
    try (UnixSocketConnection c = connect()) {
      assertArrayEquals(p, bytes(c.readFrame(1 << 20)));
      VineyardException e = assertThrows(VineyardException.class, () -> c.readFrame(1 << 20));
      assertEquals(ErrorCode.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("closed"), e.getMessage());
      assertTrue(c.isClosed());
    }
    awaitPeer();
  }

  @Test
  void eofInsideAFrameIsUnavailable() throws Exception {
    peer(
        ch -> {
          writeFully(ch, ByteBuffer.wrap(header(10)));
          writeFully(ch, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        });
    try (UnixSocketConnection c = connect()) {
      assertUnavailable(() -> c.readFrame(1 << 20));
      assertTrue(c.isClosed());
    }
    awaitPeer();
  }

  @Test
  void eofInsideTheLengthPrefixIsUnavailable() throws Exception {
    peer(ch -> writeFully(ch, ByteBuffer.wrap(new byte[] {0, 0})));
    try (UnixSocketConnection c = connect()) {
      assertUnavailable(() -> c.readFrame(1 << 20));
      assertTrue(c.isClosed());
    }
    awaitPeer();
  }

  @Test
  void aSilentPeerTimesOut() throws Exception {
    CountDownLatch done = new CountDownLatch(1);
    peer(ch -> done.await(10, TimeUnit.SECONDS));
    try (UnixSocketConnection c = open(socketPath, Duration.ofMillis(200))) {
      long start = System.nanoTime();
      VineyardException e = assertThrows(VineyardException.class, () -> c.readFrame(1 << 20));
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertEquals(ErrorCode.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("timed out"), e.getMessage());
      assertTrue(millis >= 150 && millis < 5_000, "timed out after " + millis + " ms");
      assertTrue(c.isClosed());
    } finally {
      done.countDown();
    }
    awaitPeer();
  }

  // ---------------------------------------------------------------- writing frames

  @Test
  void writtenFramesCarryABigEndianLengthPrefix() throws Exception {
    Random r = new Random(11);
    List<byte[]> sent = List.of(new byte[0], "hello".getBytes(StandardCharsets.UTF_8), randomPayload(r, 100_000),
        randomPayload(r, 3), randomPayload(r, 300_000), new byte[0]);
    List<byte[]> received = new ArrayList<>();
    List<Integer> prefixes = new ArrayList<>();
    peer(
        ch -> {
          for (int i = 0; i < sent.size(); i++) {
            ByteBuffer len = ByteBuffer.allocate(4);
            readFully(ch, len);
            int n = len.flip().getInt();
            prefixes.add(n);
            ByteBuffer p = ByteBuffer.allocate(n);
            readFully(ch, p);
            received.add(p.array());
          }
          // Nothing but the frames: the client closes next, so the stream must end here.
          if (ch.read(ByteBuffer.allocate(1)) != -1) {
            throw new AssertionError("extra bytes after the last frame");
          }
        });
    try (UnixSocketConnection c = connect()) {
      for (byte[] p : sent) {
        c.writeFrame(p);
      }
    }
    awaitPeer();
    assertEquals(sent.size(), received.size());
    for (int i = 0; i < sent.size(); i++) {
      assertEquals(sent.get(i).length, prefixes.get(i), "length prefix of frame " + i);
      assertArrayEquals(sent.get(i), received.get(i), "payload of frame " + i);
    }
  }

  @Test
  void framesWrittenByManyThreadsAtOnceArriveWholeAndEachThreadsInOrder() throws Exception {
    int threads = 8;
    int perThread = 1500;
    // Payload: thread, sequence, then filler of a size that varies (a few big frames push the queue
    // past its bound, so writers also wait for the sender), every byte derived from the first two.
    int[] next = new int[threads];
    peer(
        ch -> {
          for (int i = 0; i < threads * perThread; i++) {
            ByteBuffer len = ByteBuffer.allocate(4);
            readFully(ch, len);
            ByteBuffer p = ByteBuffer.allocate(len.flip().getInt());
            readFully(ch, p);
            p.flip();
            int t = p.getInt();
            int seq = p.getInt();
            if (seq != next[t]) {
              throw new AssertionError("thread " + t + ": frame " + seq + " arrived where " + next[t] + " was due");
            }
            next[t]++;
            while (p.hasRemaining()) {
              if (p.get() != (byte) (t * 31 + seq)) {
                throw new AssertionError("thread " + t + ", frame " + seq + ": a byte of another frame");
              }
            }
          }
        });
    try (UnixSocketConnection c = connect()) {
      CountDownLatch start = new CountDownLatch(1);
      List<Thread> writers = new ArrayList<>();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      for (int t = 0; t < threads; t++) {
        int me = t;
        writers.add(Thread.ofPlatform().start(() -> {
          try {
            start.await();
            for (int seq = 0; seq < perThread; seq++) {
              int filler = seq % 500 == 499 ? 3 << 20 : (seq * 7919) % 9000;
              ByteBuffer p = ByteBuffer.allocate(8 + filler).putInt(me).putInt(seq);
              while (p.hasRemaining()) {
                p.put((byte) (me * 31 + seq));
              }
              c.writeFrame(p.array());
            }
          } catch (Throwable e) {
            failed.set(e);
          }
        }));
      }
      start.countDown();
      for (Thread w : writers) {
        w.join(30_000);
      }
      if (failed.get() != null) {
        throw new AssertionError("a writer failed", failed.get());
      }
      awaitPeer();
    }
    for (int t = 0; t < threads; t++) {
      assertEquals(perThread, next[t], "frames of thread " + t);
    }
  }

  @Test
  void aDeferredFrameGoesOutOnItsOwnSoonAndAheadOfTheNextFrame() throws Exception {
    io.vineyard.proto.ipc.Request first = io.vineyard.proto.ipc.Request.newBuilder().setRequestId(1).build();
    io.vineyard.proto.ipc.Request second = io.vineyard.proto.ipc.Request.newBuilder().setRequestId(2).build();
    io.vineyard.proto.ipc.Request third = io.vineyard.proto.ipc.Request.newBuilder().setRequestId(3).build();
    CountDownLatch firstArrived = new CountDownLatch(1);
    List<Long> ids = new ArrayList<>();
    peer(
        ch -> {
          for (int i = 0; i < 3; i++) {
            ByteBuffer len = ByteBuffer.allocate(4);
            readFully(ch, len);
            ByteBuffer p = ByteBuffer.allocate(len.flip().getInt());
            readFully(ch, p);
            ids.add(io.vineyard.proto.ipc.Request.parseFrom(p.flip()).getRequestId());
            firstArrived.countDown();
          }
        });
    try (UnixSocketConnection c = connect()) {
      // Alone, a deferred frame still leaves, within about UnixSocketConnection.DEFERRED_FLUSH.
      c.writeFrame(first, true);
      assertTrue(firstArrived.await(5, TimeUnit.SECONDS), "a deferred frame was never sent");
      // Followed by an ordinary frame, it leaves first.
      c.writeFrame(second, true);
      c.writeFrame(third);
      awaitPeer();
    }
    assertEquals(List.of(1L, 2L, 3L), ids);
  }

  /** A release-sized request, serialized with {@code filler} bytes of client name. */
  private static io.vineyard.proto.ipc.Request request(long id, int filler) {
    io.vineyard.proto.ipc.Request.Builder b = io.vineyard.proto.ipc.Request.newBuilder().setRequestId(id);
    if (filler > 0) {
      b.setRegister(io.vineyard.proto.ipc.RegisterRequest.newBuilder().setClientName("x".repeat(filler)));
    }
    return b.build();
  }

  @Test
  void aDeferredFrameIsNotHeldUpByAnotherConnectionsBlockedSend() throws Exception {
    // Connection A's peer never reads, so whoever sends A's queue blocks (up to A's timeout); a
    // deferred frame on connection B must still leave within about DEFERRED_FLUSH.
    try (UnixSocketConnection a = open(socketPath, Duration.ofSeconds(4));
        SocketChannel peerA = server.accept();
        UnixSocketConnection b = connect();
        SocketChannel peerB = server.accept()) {
      a.writeFrame(request(1, 4 << 20), true); // left to the backstop flusher, which blocks sending it
      assertTrue(peerA.isConnected());
      Thread.sleep(200);
      long t0 = System.nanoTime();
      b.writeFrame(request(2, 0), true);
      ByteBuffer len = ByteBuffer.allocate(4);
      readFully(peerB, len);
      ByteBuffer p = ByteBuffer.allocate(len.flip().getInt());
      readFully(peerB, p);
      long tookMs = (System.nanoTime() - t0) / 1_000_000;
      assertEquals(2, io.vineyard.proto.ipc.Request.parseFrom(p.flip()).getRequestId());
      assertTrue(tookMs < 1000, "B's deferred frame waited " + tookMs + " ms for A's blocked send");
    }
  }

  @Test
  void aWriterDoesNotKeepSendingOtherThreadsFramesForever() throws Exception {
    // A slow peer, and a thread that writes all the time: the thread that took the sender role must
    // get back to its caller (whose call has a deadline) soon after its own frame is out, not when
    // the other thread stops writing.
    long busyMs = 4000;
    peer(
        ch -> {
          ByteBuffer sink = ByteBuffer.allocate(256 << 10);
          while (true) {
            sink.clear();
            if (ch.read(sink) < 0) {
              return;
            }
            Thread.sleep(1);
          }
        });
    try (UnixSocketConnection c = connect()) {
      AtomicReference<Throwable> failed = new AtomicReference<>();
      long[] firstWriteMs = new long[1];
      Thread first = Thread.ofPlatform().start(() -> {
        try {
          long t0 = System.nanoTime();
          c.writeFrame(request(1, 2 << 20));
          firstWriteMs[0] = (System.nanoTime() - t0) / 1_000_000;
        } catch (Throwable e) {
          failed.set(e);
        }
      });
      Thread.sleep(20); // the first thread is the sender now, its 2 MiB going out slowly
      Thread busy = Thread.ofPlatform().start(() -> {
        try {
          long end = System.nanoTime() + busyMs * 1_000_000;
          io.vineyard.proto.ipc.Request r = request(2, 64 << 10);
          while (System.nanoTime() < end) {
            c.writeFrame(r);
          }
        } catch (Throwable e) {
          failed.set(e);
        }
      });
      first.join(busyMs + 20_000);
      busy.join(busyMs + 20_000);
      if (failed.get() != null) {
        throw new AssertionError("a writer failed", failed.get());
      }
      assertTrue(firstWriteMs[0] < busyMs / 2,
          "the first writer was kept sending the other thread's frames for " + firstWriteMs[0] + " ms");
    }
  }

  @Test
  void requestAndReplyOverOneConnection() throws Exception {
    peer(
        ch -> {
          for (int i = 0; i < 50; i++) {
            ByteBuffer len = ByteBuffer.allocate(4);
            readFully(ch, len);
            ByteBuffer p = ByteBuffer.allocate(len.flip().getInt());
            readFully(ch, p);
            byte[] reply = new StringBuilder(new String(p.array(), StandardCharsets.UTF_8)).reverse().toString()
                .getBytes(StandardCharsets.UTF_8);
            writeFully(ch, ByteBuffer.wrap(frame(reply)));
          }
        });
    try (UnixSocketConnection c = connect()) {
      assertEquals(socketPath, c.path());
      for (int i = 0; i < 50; i++) {
        String msg = "request-" + i + "-" + "x".repeat(i * 97);
        c.writeFrame(msg.getBytes(StandardCharsets.UTF_8));
        String reply = new String(bytes(c.readFrame(1 << 20)), StandardCharsets.UTF_8);
        assertEquals(new StringBuilder(msg).reverse().toString(), reply);
      }
    }
    awaitPeer();
  }

  // ---------------------------------------------------------------- connecting

  @Test
  void connectingToANonexistentPathIsUnavailable() {
    VineyardException e =
        assertThrows(VineyardException.class, () -> open(dir.resolve("none.sock"), TIMEOUT));
    assertEquals(ErrorCode.UNAVAILABLE, e.code());
    assertTrue(e.getMessage().contains("none.sock"), e.getMessage());
  }

  @Test
  void connectingToAPathNoOneListensOnIsUnavailable() throws IOException {
    server.close(); // the socket file may stay, but nothing accepts any more
    VineyardException e = assertThrows(VineyardException.class, this::connect);
    assertEquals(ErrorCode.UNAVAILABLE, e.code());
  }

  @Test
  void pathLengthLimitIsThatOfSunPath() {
    // sun_path holds 108 bytes including the terminating NUL: 107 bytes fit, 108 do not.
    Path fits = Path.of("/" + "a".repeat(Libc.SUN_PATH_MAX - 2));
    assertEquals(Libc.SUN_PATH_MAX - 1, fits.toString().length());
    VineyardException e1 = assertThrows(VineyardException.class, () -> open(fits, TIMEOUT));
    assertEquals(ErrorCode.UNAVAILABLE, e1.code(), "a 107-byte path is legal; it just does not exist");

    Path tooLong = Path.of("/" + "a".repeat(Libc.SUN_PATH_MAX - 1));
    VineyardException e2 = assertThrows(VineyardException.class, () -> open(tooLong, TIMEOUT));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e2.code());
  }

  @Test
  void closeIsIdempotent() throws Exception {
    peer(ch -> ch.read(ByteBuffer.allocate(1)));
    UnixSocketConnection c = connect();
    c.close();
    c.close();
    assertTrue(c.isClosed());
    assertUnavailable(() -> c.readFrame(16));
    awaitPeer();
  }
}
