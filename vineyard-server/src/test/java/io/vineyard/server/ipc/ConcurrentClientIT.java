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
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One {@link IpcClient} shared by many threads, against real daemons over real sockets: concurrent
 * calls, async and batch calls, slow calls beside fast ones, deadlines, a daemon killed mid-call,
 * and close() while calls are in flight.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ConcurrentClientIT {

  @TempDir static Path work;
  static DaemonProcess daemon;

  private final ExecutorService pool = Executors.newCachedThreadPool();

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(Files.createDirectory(work.resolve("d")), "256Mi");
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  @AfterEach
  void stopPool() {
    pool.shutdownNow();
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static void assertNoLeak(IpcClient c) {
    assertEquals(0, c.openHandleCount(), "handles left open");
    assertEquals(0, c.requestsInFlight(), "requests left in flight");
    try (IpcClient other = daemon.connect()) {
      assertEquals(0, other.stats().pinnedBlobCount(), "pins left");
    }
  }

  /** Lines of /proc/self/maps naming files of this daemon's shared memory. */
  private static long mappingsOf(DaemonProcess d) throws IOException {
    String dir = d.shmDir().toString();
    try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
      return lines.filter(l -> l.contains(dir)).count();
    }
  }

  @Test
  void manyThreadsShareOneClient() throws Exception {
    int threads = 8;
    int rounds = 150;
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try (IpcClient c = daemon.connect()) {
      List<Future<List<ObjectId>>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(
            pool.submit(
                () -> {
                  List<ObjectId> mine = new ArrayList<>();
                  for (int i = 0; i < rounds && System.nanoTime() < until; i++) {
                    int size = switch (i % 3) {
                      case 0 -> 4096;
                      case 1 -> 100_000; // written in place
                      default -> 1 + (i * 37) % 5000;
                    };
                    byte[] data = randomBytes(size, thread * 100_000L + i);
                    ObjectId id = c.putBlob(data);
                    mine.add(id);
                    try (Blob b = c.getBlob(id)) {
                      assertArrayEquals(data, b.segment().toArray(ValueLayout.JAVA_BYTE), "blob " + id);
                    }
                    assertEquals(size, c.getMeta(id).nbytes());
                    if (i % 10 == 0) {
                      c.stats();
                    }
                  }
                  return mine;
                }));
      }
      List<ObjectId> all = new ArrayList<>();
      for (Future<List<ObjectId>> f : done) {
        all.addAll(f.get(2, TimeUnit.MINUTES));
      }
      assertEquals(all.size(), all.stream().distinct().count(), "every put got its own id");
      assertNoLeak(c);
      c.delete(all, false, false);
      assertEquals(0, c.stats().usedBytes());
    }
  }

  @Test
  void oneThreadStaysFast() {
    // Not a benchmark (benchmarks/run.sh is): a floor that catches a hand-off or a lock gone wrong.
    try (IpcClient c = daemon.connect()) {
      byte[] data = randomBytes(4096, 3);
      int n = 0;
      long t0 = System.nanoTime();
      long until = t0 + TimeUnit.SECONDS.toNanos(2);
      List<ObjectId> ids = new ArrayList<>();
      while (n < 20_000 && System.nanoTime() < until) {
        try (BlobWriter w = c.createBlob(data.length)) {
          MemorySegment.copy(data, 0, w.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
          ObjectId id = w.seal();
          ids.add(id);
          try (Blob b = c.getBlob(id)) {
            assertEquals(data.length, b.size());
          }
        }
        n++;
      }
      double perSecond = n / ((System.nanoTime() - t0) / 1e9);
      System.out.printf("one thread: %.0f small create+write+seal+get+close per second%n", perSecond);
      assertTrue(perSecond > 1000, perSecond + " small ops per second");
      c.delete(ids, false, false);
      assertNoLeak(c);
    }
  }

  @Test
  void asyncCallsInFlightCompleteWithTheirOwnResults() throws Exception {
    try (IpcClient c = daemon.connect()) {
      int n = 200;
      List<byte[]> data = new ArrayList<>();
      List<CompletableFuture<ObjectId>> puts = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        byte[] d = randomBytes(i % 20 == 0 ? 200_000 : 64 + i, i);
        data.add(d);
        puts.add(i % 2 == 0 ? c.putBlobAsync(d) : c.putBlobAsync(MemorySegment.ofArray(d)));
      }
      List<ObjectId> ids = new ArrayList<>();
      for (CompletableFuture<ObjectId> f : puts) {
        ids.add(f.get(60, TimeUnit.SECONDS));
      }
      assertEquals(n, ids.stream().distinct().count());

      // Gets and metadata in flight together, read back in any order.
      List<CompletableFuture<List<Blob>>> gets = new ArrayList<>();
      List<CompletableFuture<ObjectMeta>> metas = new ArrayList<>();
      for (int i = 0; i < n; i += 10) {
        gets.add(c.getBlobsAsync(ids.subList(i, i + 10)));
        metas.add(c.getMetaAsync(ids.get(i)));
      }
      for (int g = 0; g < gets.size(); g++) {
        List<Blob> blobs = gets.get(g).get(60, TimeUnit.SECONDS);
        for (int k = 0; k < blobs.size(); k++) {
          int i = g * 10 + k;
          assertEquals(ids.get(i), blobs.get(k).id());
          assertArrayEquals(data.get(i), blobs.get(k).segment().toArray(ValueLayout.JAVA_BYTE));
          blobs.get(k).close();
        }
        ObjectMeta m = metas.get(g).get(60, TimeUnit.SECONDS);
        assertEquals(ids.get(g * 10), m.id());
        assertEquals(data.get(g * 10).length, m.nbytes());
      }

      // A callback may call the client again, blocking calls included: it runs on the client's executor.
      ObjectMeta tensor = ObjectMeta.builder("concurrent::Thing").field("n", 7L).member("buffer", ids.getFirst()).build();
      ObjectMeta stored =
          c.putMetaAsync(tensor).thenApply(id -> c.getMeta(id)).get(60, TimeUnit.SECONDS);
      assertEquals("concurrent::Thing", stored.typename());
      assertEquals(ids.getFirst(), stored.member("buffer").id());

      // Errors arrive as VineyardExceptions through the future.
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> c.getMetaAsync(new ObjectId(ids.getFirst().value() ^ 0xFFFFL)).get(30, TimeUnit.SECONDS));
      assertEquals(ErrorCode.NOT_FOUND, ((VineyardException) e.getCause()).code());

      c.delete(List.of(stored.id()), false, false);
      c.delete(ids, false, false);
      assertNoLeak(c);
    }
  }

  @Test
  void aBatchSealRacingACloseNeverSealsStagingMemoryReusedMeanwhile() throws Exception {
    // close() is safe from any thread; when it lands while a batch seal is under way, the batch
    // may still seal the blob, but only with the bytes written, never with the staging memory
    // after the close gave it back and the client's next small blob took (and zeroed) it.
    int size = 4000;
    int rounds = 3000;
    AtomicInteger round = new AtomicInteger(-1);
    AtomicInteger closedRound = new AtomicInteger(-1);
    BlobWriter[] current = new BlobWriter[1];
    AtomicBoolean stop = new AtomicBoolean();
    try (IpcClient c = daemon.connect()) {
      Future<?> closer = pool.submit(() -> {
        Random r = new Random(7);
        int seen = -1;
        while (!stop.get()) {
          int now = round.get();
          if (now == seen) {
            Thread.onSpinWait();
            continue;
          }
          seen = now;
          BlobWriter w;
          synchronized (current) {
            w = current[0];
          }
          long until = System.nanoTime() + r.nextInt(30_000);
          while (System.nanoTime() < until) {
            Thread.onSpinWait();
          }
          w.close();
          try (BlobWriter next = c.createBlob(size)) {
            next.segment().fill((byte) 0x11);
          }
          closedRound.set(now);
        }
        return null;
      });
      int sealed = 0;
      for (int i = 0; i < rounds; i++) {
        BlobWriter w = c.createBlob(size);
        w.segment().fill((byte) 0x5A);
        synchronized (current) {
          current[0] = w;
        }
        round.set(i);
        ObjectId id = null;
        try {
          id = c.seal(List.of(w)).getFirst();
        } catch (VineyardException e) {
          assertEquals(ErrorCode.NOT_FOUND, e.code(), e.getMessage()); // closed first: aborted
        }
        while (closedRound.get() != i) {
          Thread.onSpinWait();
        }
        if (id != null) {
          sealed++;
          try (Blob b = c.getBlob(id)) {
            byte[] got = b.segment().toArray(ValueLayout.JAVA_BYTE);
            for (int k = 0; k < size; k++) {
              if (got[k] != 0x5A) {
                throw new AssertionError("round " + i + ": byte " + k + " of the sealed blob is " + got[k]
                    + ", not what was written (0x5A): its staging memory was reused while being sealed");
              }
            }
          }
          c.delete(List.of(id), false, false);
        }
      }
      stop.set(true);
      round.set(-2);
      closer.get(30, TimeUnit.SECONDS);
      assertTrue(sealed > 0, "no round sealed its blob before the close");
    }
  }

  @Test
  void stagesOfAllOfNeverRunOnTheThreadThatReadsReplies() throws Exception {
    // A relay the JDK attaches (allOf, anyOf, copy, other.thenCombine(f)) is no stage of the
    // client future's own; attached while the reply is being completed, it must still not bring
    // the caller's code onto the reading thread (where a blocking call fails or stalls every reply).
    int rounds = 20_000;
    List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
    try (IpcClient c = daemon.connect()) {
      ObjectId id = c.putMeta(ObjectMeta.builder("test::Probe").field("k", "v").build());
      Random r = new Random(11);
      List<CompletableFuture<Void>> all = new ArrayList<>();
      for (int i = 0; i < rounds; i++) {
        CompletableFuture<ObjectMeta> f = c.getMetaAsync(id);
        long until = System.nanoTime() + r.nextInt(80_000);
        while (System.nanoTime() < until) {
          Thread.onSpinWait();
        }
        all.add(CompletableFuture.allOf(f).thenRun(() -> {
          String t = Thread.currentThread().getName();
          if (t.startsWith("vineyard-ipc-reader")) {
            wrong.add(t);
          }
        }));
        if (all.size() >= 64) {
          all.forEach(CompletableFuture::join);
          all.clear();
        }
      }
      all.forEach(CompletableFuture::join);
      assertTrue(wrong.isEmpty(), wrong.size() + " of " + rounds + " stages ran on the reading thread");
      c.delete(List.of(id), false, false);
    }
  }

  @Test
  void batchesAreAllOrNothing() throws Exception {
    try (DaemonProcess small = DaemonProcess.start(Files.createDirectory(work.resolve("small")), "16Mi");
        IpcClient c = small.connect()) {
      StoreStats before = c.stats();
      long tooBig = 64L << 20;

      // putBlobs: small inline ones, one in place, and a last one that does not fit.
      List<byte[]> blobs = List.of(randomBytes(1000, 1), randomBytes(2 << 20, 2), new byte[(int) tooBig]);
      VineyardException e = assertThrows(VineyardException.class, () -> c.putBlobs(blobs));
      assertEquals(ErrorCode.OUT_OF_MEMORY, e.code(), e.getMessage());
      assertSameMemory(before, c.stats());

      // createBlobs likewise.
      e = assertThrows(VineyardException.class, () -> c.createBlobs(List.of(4096L, 3L << 20, tooBig)));
      assertEquals(ErrorCode.OUT_OF_MEMORY, e.code(), e.getMessage());
      assertSameMemory(before, c.stats());
      assertEquals(0, c.openHandleCount());

      // And when they fit: one request each, every blob readable afterwards.
      List<byte[]> ok = List.of(randomBytes(10, 3), new byte[0], randomBytes(1 << 20, 4), randomBytes(65536, 5));
      List<ObjectId> put = c.putBlobs(ok);
      List<BlobWriter> writers = c.createBlobs(List.of(100L, 2L << 20, 0L));
      List<byte[]> written = List.of(randomBytes(100, 6), randomBytes(2 << 20, 7), new byte[0]);
      for (int i = 0; i < writers.size(); i++) {
        MemorySegment.copy(written.get(i), 0, writers.get(i).segment(), ValueLayout.JAVA_BYTE, 0, written.get(i).length);
      }
      List<ObjectId> sealed = c.seal(writers);
      assertTrue(writers.stream().allMatch(BlobWriter::isSealed));
      assertEquals(ErrorCode.ALREADY_SEALED, assertThrows(VineyardException.class, () -> c.seal(writers)).code());
      List<ObjectId> allIds = new ArrayList<>(put);
      allIds.addAll(sealed);
      List<byte[]> allData = new ArrayList<>(ok);
      allData.addAll(written);
      List<Blob> got = c.getBlobs(allIds);
      for (int i = 0; i < got.size(); i++) {
        assertArrayEquals(allData.get(i), got.get(i).segment().toArray(ValueLayout.JAVA_BYTE), "blob " + i);
        got.get(i).close();
      }
      writers.forEach(BlobWriter::close);
      assertEquals(0, c.openHandleCount());
      assertEquals(0, c.stats().unsealedBlobCount());
      c.delete(allIds, false, false);
      assertSameMemory(before, c.stats());
    }
  }

  private static void assertSameMemory(StoreStats before, StoreStats after) {
    assertEquals(before.usedBytes(), after.usedBytes(), "memory back to where it was");
    assertEquals(before.blobCount(), after.blobCount(), "no blob left");
    assertEquals(before.unsealedBlobCount(), after.unsealedBlobCount(), "no unsealed blob left");
  }

  @Test
  void aDaemonKilledMidCallFailsEveryWaiterPromptly() throws Exception {
    DaemonProcess doomed = DaemonProcess.start(Files.createDirectory(work.resolve("doomed")), "64Mi");
    try (IpcClient c = doomed.connect()) {
      int threads = 6;
      AtomicInteger calls = new AtomicInteger();
      List<Future<VineyardException>> loops = new ArrayList<>();
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      for (int t = 0; t < threads; t++) {
        int thread = t;
        loops.add(
            pool.submit(
                () -> {
                  byte[] data = randomBytes(thread % 2 == 0 ? 4096 : 200_000, thread);
                  while (System.nanoTime() < until) {
                    try {
                      ObjectId id = c.putBlob(data);
                      try (Blob b = c.getBlob(id)) {
                        b.size();
                      }
                      c.delete(id);
                      calls.incrementAndGet();
                    } catch (VineyardException e) {
                      return e;
                    }
                  }
                  return null;
                }));
      }
      long busy = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (calls.get() < 100 && System.nanoTime() < busy) {
        Thread.sleep(10);
      }
      long t0 = System.nanoTime();
      doomed.kill();
      for (Future<VineyardException> f : loops) {
        VineyardException e = f.get(10, TimeUnit.SECONDS);
        assertTrue(e != null, "a loop ran out of time instead of failing");
        assertEquals(ErrorCode.UNAVAILABLE, e.code(), e.getMessage());
      }
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms < 5_000, "waiters failed after " + ms + " ms");
      assertEquals(ErrorCode.UNAVAILABLE, assertThrows(VineyardException.class, c::stats).code());
      assertEquals(0, c.requestsInFlight());
    } finally {
      doomed.close();
    }
  }

  // ---------------------------------------------------------------- slow calls (etcd paused)

  /** A daemon on an etcd that can be paused: a persist then waits for {@code --etcd-timeout}. */
  private record SlowCluster(EtcdProcess etcd, DaemonProcess daemon, ProcessHandle etcdProcess) implements AutoCloseable {
    static final int ETCD_TIMEOUT_SECONDS = 4;

    static SlowCluster start(String name) throws IOException {
      Path dir = Files.createDirectory(work.resolve(name));
      EtcdProcess etcd = EtcdProcess.start(dir);
      String etcdBin = EtcdProcess.binary().getFileName().toString();
      ProcessHandle h =
          ProcessHandle.current().children()
              .filter(p -> p.info().command().map(cmd -> cmd.endsWith(etcdBin)).orElse(false))
              .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(dir.toString())).orElse(false))
              .findFirst()
              .orElseThrow(() -> new AssertionError("cannot find the etcd process"));
      DaemonProcess d =
          DaemonProcess.start(dir, "64Mi", "--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix",
              "/" + name, "--etcd-timeout", Integer.toString(ETCD_TIMEOUT_SECONDS));
      return new SlowCluster(etcd, d, h);
    }

    void signal(String sig) throws IOException {
      Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(etcdProcess.pid())).inheritIO().start();
      try {
        assertEquals(0, p.waitFor());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }

    @Override
    public void close() throws IOException {
      try {
        signal("CONT");
      } finally {
        daemon.close();
        etcd.close();
      }
    }
  }

  @Test
  void releasesAndCloseDoNotWaitForASlowCall() throws Exception {
    try (SlowCluster cluster = SlowCluster.start("slow")) {
      IpcClient c = cluster.daemon().connect();
      ObjectId id = c.putBlob(randomBytes(200_000, 9));
      Blob held = c.getBlob(id);
      long mapped = mappingsOf(cluster.daemon());
      assertTrue(mapped > 0, "the client maps the daemon's memory");
      cluster.signal("STOP");
      AtomicBoolean slowStarted = new AtomicBoolean();
      Future<VineyardException> slow =
          pool.submit(
              () -> {
                slowStarted.set(true);
                return assertThrows(VineyardException.class, () -> c.persist(id));
              });
      Future<VineyardException> slowToo =
          pool.submit(() -> assertThrows(VineyardException.class, () -> c.persist(id)));
      while (!slowStarted.get()) {
        Thread.sleep(5);
      }
      Thread.sleep(300);
      assertFalse(slow.isDone(), "persist is waiting on the paused etcd");

      // A release is one frame: it does not wait behind the persist.
      long t0 = System.nanoTime();
      held.close();
      long releaseMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(releaseMs < 500, "release took " + releaseMs + " ms");
      // Local work that needs no reply goes on too (a staged writer makes no request).
      try (BlobWriter w = c.createBlob(100)) {
        w.segment().fill((byte) 1);
      }

      // close() from this thread fails the calls in flight at once and unmaps everything.
      t0 = System.nanoTime();
      c.close();
      long closeMs = (System.nanoTime() - t0) / 1_000_000;
      for (Future<VineyardException> f : List.of(slow, slowToo)) {
        VineyardException e = f.get(5, TimeUnit.SECONDS);
        assertEquals(ErrorCode.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
      }
      long failMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(closeMs < 1_000 && failMs < 2_000, "close took " + closeMs + " ms, failing the calls " + failMs);
      assertEquals(0, mappingsOf(cluster.daemon()), "no mapping left after close");
      assertEquals(ErrorCode.UNAVAILABLE, assertThrows(VineyardException.class, c::stats).code());
      cluster.signal("CONT");
      try (IpcClient other = cluster.daemon().connect()) {
        assertEquals(0, other.stats().pinnedBlobCount());
        other.delete(id);
      }
    }
  }

  @Test
  void aCallPastTheTimeoutFailsAndItsLateReplyIsDropped() throws Exception {
    try (SlowCluster cluster = SlowCluster.start("late")) {
      try (IpcClient c =
          IpcClient.builder().socket(cluster.daemon().socket()).timeout(Duration.ofSeconds(1)).clientName("late-test").connect()) {
        ObjectId id = c.putBlob(randomBytes(1000, 10));
        cluster.signal("STOP");
        long t0 = System.nanoTime();
        VineyardException e = assertThrows(VineyardException.class, () -> c.persist(id));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(ErrorCode.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("persist") && e.getMessage().contains("abandoned"), e.getMessage());
        assertTrue(ms >= 900 && ms < 3_000, "gave up after " + ms + " ms");
        cluster.signal("CONT");
        // The persist's reply comes once the daemon gives up on etcd (or etcd answers); it is dropped
        // and the connection goes on.
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(SlowCluster.ETCD_TIMEOUT_SECONDS + 20);
        StoreStats s = null;
        while (System.nanoTime() < until) {
          try {
            s = c.stats();
            if (c.requestsInFlight() == 0) {
              break;
            }
          } catch (VineyardException notYet) {
            assertEquals(ErrorCode.UNAVAILABLE, notYet.code());
          }
          Thread.sleep(100);
        }
        assertTrue(s != null, "the connection works after a timed-out call");
        assertEquals(0, c.requestsInFlight(), "the late reply was matched and dropped");
        try (Blob b = c.getBlob(id)) {
          assertEquals(1000, b.size());
        }
        c.delete(id);
        assertNoLeakOn(c);
      }
    }
  }

  private static void assertNoLeakOn(IpcClient c) {
    assertEquals(0, c.openHandleCount());
    assertEquals(0, c.stats().pinnedBlobCount());
  }
}
