package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.proto.ipc.ExistsResponse;
import io.vineyard.proto.ipc.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The demultiplexer alone, fed by a queue standing in for the socket. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReplyDemuxTest {

  private static final Duration LONG = Duration.ofSeconds(30);

  /** A frame source over a queue; a response with request id -1 breaks the "connection". */
  private final BlockingQueue<Response> wire = new LinkedBlockingQueue<>();
  private final AtomicInteger reads = new AtomicInteger();
  /** Responses taken without waiting: those already "received" when the leader's own came. */
  private final AtomicInteger drained = new AtomicInteger();
  private final ReplyDemux demux =
      new ReplyDemux(
          wait -> {
            try {
              Response r = wait ? wire.poll(20, TimeUnit.MILLISECONDS) : wire.poll();
              if (r != null && !wait) {
                drained.incrementAndGet();
              }
              if (r != null && r.getRequestId() == -1L) {
                throw new VineyardException(ErrorCode.UNAVAILABLE, "the daemon closed the connection");
              }
              if (r != null) {
                reads.incrementAndGet();
              }
              return r;
            } catch (InterruptedException e) {
              throw new VineyardException(ErrorCode.INTERNAL, "interrupted", e);
            }
          },
          "test");
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  private static Response reply(long id) {
    return Response.newBuilder().setRequestId(id).setExists(ExistsResponse.newBuilder().setExists(id % 2 == 0)).build();
  }

  private static long deadline(Duration d) {
    return System.nanoTime() + d.toNanos();
  }

  @Test
  void aSingleCallerReadsItsOwnReply() {
    ReplyDemux.Pending p = demux.register(1, "exists", null, null);
    wire.add(reply(1));
    Response r = demux.await(p, deadline(LONG), LONG);
    assertEquals(1, r.getRequestId());
    assertEquals(0, demux.inFlight());
  }

  @Test
  void theLeaderHandsOutRepliesThatCameWithItsOwnBeforeSteppingDown() throws Exception {
    ReplyDemux.Pending mine = demux.register(1, "exists", null, null);
    ReplyDemux.Pending other = demux.register(2, "exists", null, null);
    // Both replies are already "received" when the leader reads its own (one read, two frames).
    wire.add(reply(1));
    wire.add(reply(2));
    Response r = demux.await(mine, deadline(LONG), LONG);
    assertEquals(1, r.getRequestId());
    assertTrue(other.isDone(), "the other caller's reply waited for a leader to wake up");
    assertEquals(1, drained.get());
    assertEquals(2, demux.await(other, deadline(LONG), LONG).getRequestId());
    assertEquals(0, demux.inFlight());
  }

  @Test
  void repliesInAnyOrderReachTheirOwnCallers() throws Exception {
    int threads = 16;
    int perThread = 50;
    AtomicInteger nextId = new AtomicInteger();
    List<Long> ready = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch allSent = new CountDownLatch(threads);
    List<Future<Integer>> results = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      results.add(
          pool.submit(
              () -> {
                int ok = 0;
                for (int i = 0; i < perThread; i++) {
                  long id = nextId.incrementAndGet();
                  ReplyDemux.Pending p = demux.register(id, "exists", null, null);
                  ready.add(id);
                  if (i == 0) {
                    allSent.countDown();
                  }
                  Response r = demux.await(p, deadline(LONG), LONG);
                  assertEquals(id, r.getRequestId());
                  assertEquals(id % 2 == 0, r.getExists().getExists());
                  ok++;
                }
                return ok;
              }));
    }
    // The "daemon": answers what is outstanding newest first, so never in request order.
    assertTrue(allSent.await(20, TimeUnit.SECONDS));
    long until = deadline(Duration.ofSeconds(40));
    int answered = 0;
    while (answered < threads * perThread && System.nanoTime() < until) {
      List<Long> batch;
      synchronized (ready) {
        batch = new ArrayList<>(ready);
        ready.clear();
      }
      Collections.reverse(batch);
      for (long id : batch) {
        wire.add(reply(id));
      }
      answered += batch.size();
      Thread.sleep(1);
    }
    for (Future<Integer> f : results) {
      assertEquals(perThread, f.get(30, TimeUnit.SECONDS));
    }
    assertEquals(0, demux.inFlight());
    assertEquals(threads * perThread, reads.get());
  }

  @Test
  void aCallPastItsDeadlineFailsAndItsLateReplyGoesToTheCleanUpHook() throws Exception {
    AtomicReference<Response> late = new AtomicReference<>();
    ReplyDemux.Pending p = demux.register(7, "persist", late::set, null);
    long t0 = System.nanoTime();
    VineyardException e =
        assertThrows(VineyardException.class, () -> demux.await(p, deadline(Duration.ofMillis(200)), Duration.ofMillis(200)));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(ErrorCode.UNAVAILABLE, e.code());
    assertTrue(e.getMessage().contains("persist") && e.getMessage().contains("abandoned"), e.getMessage());
    assertTrue(ms >= 150 && ms < 5_000, "gave up after " + ms + " ms");
    assertEquals(1, demux.inFlight(), "kept until its reply comes");
    assertFalse(demux.anyAwaited(), "but no one waits for it: releases need not wait for it either");

    // The next caller reads the late reply on its way to its own, hands it to the hook and goes on.
    ReplyDemux.Pending q = demux.register(8, "stats", null, null);
    assertTrue(demux.anyAwaited());
    wire.add(reply(7));
    wire.add(reply(8));
    assertEquals(8, demux.await(q, deadline(LONG), LONG).getRequestId());
    assertEquals(7, late.get().getRequestId());
    assertEquals(0, demux.inFlight());
  }

  @Test
  void aBrokenConnectionFailsEveryWaiterAtOnce() throws Exception {
    int threads = 8;
    CountDownLatch registered = new CountDownLatch(threads);
    List<Future<VineyardException>> waiters = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long id = t + 1;
      waiters.add(
          pool.submit(
              () -> {
                ReplyDemux.Pending p = demux.register(id, "get_blobs", null, null);
                registered.countDown();
                return assertThrows(VineyardException.class, () -> demux.await(p, deadline(LONG), LONG));
              }));
    }
    CompletableFuture<Response> async = new CompletableFuture<>();
    ReplyDemux.Pending a =
        demux.register(100, "get_meta", null, done -> {
          try {
            async.complete(done.result());
          } catch (VineyardException e) {
            async.completeExceptionally(e);
          }
        });
    demux.started(a, LONG);
    assertTrue(registered.await(10, TimeUnit.SECONDS));
    Thread.sleep(100);
    long t0 = System.nanoTime();
    wire.add(Response.newBuilder().setRequestId(-1L).build());
    for (Future<VineyardException> f : waiters) {
      assertEquals(ErrorCode.UNAVAILABLE, f.get(5, TimeUnit.SECONDS).code());
    }
    Throwable asyncFailure = assertThrows(Exception.class, () -> async.get(5, TimeUnit.SECONDS)).getCause();
    assertEquals(ErrorCode.UNAVAILABLE, ((VineyardException) asyncFailure).code());
    assertTrue((System.nanoTime() - t0) < TimeUnit.SECONDS.toNanos(5));
    assertTrue(demux.hasFailed());
    assertEquals(0, demux.inFlight());
    // And every later request fails at once.
    ReplyDemux.Pending later = demux.register(200, "exists", null, null);
    assertTrue(later.isDone());
    assertEquals(ErrorCode.UNAVAILABLE, assertThrows(VineyardException.class, later::result).code());
    demux.joinBackground(Duration.ofSeconds(5));
  }

  @Test
  void asynchronousRequestsAreReadWithNoCallerWaiting() throws Exception {
    int n = 100;
    List<CompletableFuture<Long>> futures = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      CompletableFuture<Long> f = new CompletableFuture<>();
      ReplyDemux.Pending p = demux.register(i, "get_meta", null, done -> f.complete(done.result().getRequestId()));
      demux.started(p, LONG);
      futures.add(f);
    }
    for (int i = n; i >= 1; i--) {
      wire.add(reply(i));
    }
    for (int i = 0; i < n; i++) {
      assertEquals(i + 1, futures.get(i).get(10, TimeUnit.SECONDS));
    }
    assertEquals(0, demux.inFlight());
  }

  @Test
  void anAsynchronousRequestTimesOut() throws Exception {
    CompletableFuture<VineyardException> f = new CompletableFuture<>();
    ReplyDemux.Pending p =
        demux.register(
            5, "migrate", null, done -> {
              try {
                done.result();
                f.complete(null);
              } catch (VineyardException e) {
                f.complete(e);
              }
            });
    demux.started(p, Duration.ofMillis(100));
    VineyardException e = f.get(10, TimeUnit.SECONDS);
    assertEquals(ErrorCode.UNAVAILABLE, e.code());
    assertTrue(e.getMessage().contains("migrate"), e.getMessage());
  }

  @Test
  void aBlockingWaitOnTheReadingThreadIsRefused() throws Exception {
    ReplyDemux.Pending inner = demux.register(2, "exists", null, null);
    AtomicReference<VineyardException> refused = new AtomicReference<>();
    ReplyDemux.Pending outer =
        demux.register(1, "get_blobs", null, done -> {
          // Runs on the thread that read the reply: a blocking wait here would wait for itself.
          try {
            demux.await(inner, deadline(LONG), LONG);
          } catch (VineyardException e) {
            refused.set(e);
          }
        });
    demux.started(outer, LONG);
    wire.add(reply(1));
    long until = deadline(Duration.ofSeconds(10));
    while (refused.get() == null && System.nanoTime() < until) {
      Thread.sleep(10);
    }
    assertEquals(ErrorCode.ILLEGAL_STATE, refused.get().code());
    assertFalse(demux.isReaderThread());
  }
}
