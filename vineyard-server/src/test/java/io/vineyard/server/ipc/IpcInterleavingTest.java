package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.ExistsRequest;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.PersistRequest;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.PutMetaRequest;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.ReleaseRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.server.testing.InProcessDaemon;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The IPC handler over a real daemon service, without a socket: answers go out as they are ready,
 * each with its request id, so one that waits (spill I/O, the metadata backend) does not hold back
 * the ones after it.
 *
 * <p>The handler runs on a single-threaded executor of its own rather than on the {@link
 * EmbeddedChannel}'s loop: that loop's task queue is not thread-safe, and the handler hands answers
 * completed on the service's threads back to its executor. Everything the test does to the channel
 * goes through that executor too ({@link #onLoop}), so the channel is confined to one thread as a
 * real event loop would keep it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IpcInterleavingTest {

  private static final int MAX_FRAME = 1 << 20;
  private static final long CAPACITY = 1 << 20;

  private InProcessDaemon d;
  private DefaultEventExecutorGroup loop;
  private EmbeddedChannel ch;
  /** Responses read so far, in the order written; FileDescriptor messages are counted apart. */
  private final List<Response> answers = new ArrayList<>();
  /** For each response: how many descriptors were written just before it. */
  private final Map<Long, Integer> descriptorsBefore = new HashMap<>();
  private int pendingDescriptors;

  @BeforeEach
  // Netty 4.2 deprecates handlers on an executor of their own; it is what keeps this test thread-safe.
  @SuppressWarnings("deprecation")
  void setUp() throws Exception {
    d = new InProcessDaemon(CAPACITY, 0.9, 0.1);
    loop = new DefaultEventExecutorGroup(1);
    ch = new EmbeddedChannel();
    onLoop(() -> ch.pipeline().addLast(loop, "serve", new IpcHandler(d.service, MAX_FRAME)));
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      onLoop(() -> {
        ch.finishAndReleaseAll();
        return null;
      });
    } finally {
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
      d.close();
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Runs {@code work} on the handler's thread, which is the only one touching the channel. */
  private <T> T onLoop(Callable<T> work) throws Exception {
    return loop.next().submit(work).get(10, TimeUnit.SECONDS);
  }

  private void send(long rid, Request.Builder r) throws Exception {
    Request req = r.setRequestId(rid).build();
    onLoop(() -> ch.writeInbound(req));
  }

  /** Moves what the handler wrote so far into {@link #answers}. */
  private void drain() throws Exception {
    onLoop(() -> {
      ch.runPendingTasks();
      ch.runScheduledPendingTasks();
      Object o;
      while ((o = ch.readOutbound()) != null) {
        if (o instanceof FileDescriptor) {
          pendingDescriptors++; // not closed: it is the arena's own descriptor
          continue;
        }
        Response r = assertInstanceOf(Response.class, o);
        descriptorsBefore.put(r.getRequestId(), pendingDescriptors);
        pendingDescriptors = 0;
        answers.add(r);
      }
      return null;
    });
  }

  /** Drains until {@code done} holds, for at most 10 seconds. */
  private void drainUntil(String what, Predicate<List<Response>> done) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    drain();
    while (!done.test(answers)) {
      if (System.nanoTime() > deadline) {
        fail("timed out waiting for " + what + "; answers so far: " + ids());
      }
      Thread.sleep(5);
      drain();
    }
  }

  private List<Long> ids() {
    return answers.stream().map(Response::getRequestId).toList();
  }

  private Response answer(long rid) {
    List<Response> r = answers.stream().filter(a -> a.getRequestId() == rid).toList();
    assertEquals(1, r.size(), "exactly one answer to request " + rid + "; answers: " + ids());
    return r.getFirst();
  }

  private static Request.Builder register() {
    return Request.newBuilder().setRegister(
        RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName("interleaving"));
  }

  private static Request.Builder stats() {
    return Request.newBuilder().setStats(StatsRequest.getDefaultInstance());
  }

  private static Request.Builder putBlob(byte[] data) {
    return Request.newBuilder().setCreateBlob(
        CreateBlobRequest.newBuilder().setSize(data.length).setSealWithData(true).setData(ByteString.copyFrom(data)));
  }

  private void registered() throws Exception {
    send(1, register());
    drainUntil("register", a -> a.size() == 1);
    assertTrue(answer(1).hasRegister(), answer(1).toString());
    answers.clear();
  }

  private static void ok(Response r) {
    assertFalse(r.hasError(), () -> "request " + r.getRequestId() + " failed: " + r.getError());
  }

  // ---------------------------------------------------------------- tests

  @Test
  void aGetWaitingOnAReloadDoesNotHoldBackLaterRequests() throws Exception {
    registered();
    send(2, putBlob(new byte[200 << 10]));
    drainUntil("the put", a -> a.size() == 1);
    ok(answer(2));
    assertEquals(0, descriptorsBefore.get(2L), "a blob sealed from the bytes it carries: its client maps nothing");
    assertEquals(0, answer(2).getNewRegionsCount());
    long spilled = answer(2).getCreateBlob().getBlob().getId();
    d.store.spillToLowMark();
    assertEquals(1, d.service.stats().spilledBlobCount());
    answers.clear();

    d.spiller.reads.close();
    send(10, Request.newBuilder().setGetBlobs(GetBlobsRequest.newBuilder().addIds(spilled)));
    assertTrue(d.spiller.reads.awaitEntered(1), "the reload started");
    send(11, stats());
    send(12, putBlob(new byte[] {1, 2, 3}));
    send(13, Request.newBuilder().setExists(ExistsRequest.newBuilder().setId(spilled)));
    send(14, Request.newBuilder().setRelease(ReleaseRequest.newBuilder().addIds(spilled))); // one-way
    send(15, Request.newBuilder().setPutMeta(PutMetaRequest.newBuilder().setMeta(Protos.toProto(
        ObjectMeta.builder("t::Holder").member("b", new ObjectId(spilled)).build()))));
    drainUntil("the quick answers", a -> a.size() == 4);
    assertEquals(List.of(11L, 12L, 13L, 15L), ids(), "answered in order, without waiting for request 10");
    answers.forEach(IpcInterleavingTest::ok);
    assertTrue(answer(13).getExists().getExists());
    assertEquals(0, descriptorsBefore.get(12L), "nothing to map for a blob sealed from its bytes");

    d.spiller.reads.open();
    drainUntil("the reload", a -> a.size() == 5);
    Response got = answer(10);
    ok(got);
    assertEquals(spilled, got.getGetBlobs().getBlobs(0).getId());
    assertEquals(200 << 10, got.getGetBlobs().getBlobs(0).getSize());
    assertEquals(1, got.getNewRegionsCount(), "the first get names the region");
    assertFalse(got.getNewRegions(0).getWritable(), "read-only, for a reader");
    assertEquals(1, descriptorsBefore.get(10L), "the first answer naming a region is preceded by its descriptor");
    assertEquals(List.of(11L, 12L, 13L, 15L, 10L), ids(), "one answer each, none for the release");
    assertEquals(1, d.service.stats().pinnedBlobCount(), "the get's pin (the release before it held none)");
  }

  @Test
  void requestsWaitingOnTheBackendDoNotHoldBackLaterOnes() throws Exception {
    registered();
    send(2, putBlob(new byte[] {9}));
    drainUntil("the put", a -> a.size() == 1);
    long blob = answer(2).getCreateBlob().getBlob().getId();

    d.backend.gate.close();
    send(20, Request.newBuilder().setPersist(PersistRequest.newBuilder().setId(blob)));
    send(21, Request.newBuilder().setInstances(InstancesRequest.getDefaultInstance()));
    send(22, Request.newBuilder().setGetName(GetNameRequest.newBuilder().setName("unbound")));
    assertTrue(d.backend.gate.awaitEntered(3), "all three went to the backend");
    send(23, stats());
    send(24, Request.newBuilder().setExists(ExistsRequest.newBuilder().setId(blob)));
    drainUntil("the local answers", a -> a.size() == 3);
    assertEquals(List.of(2L, 23L, 24L), ids());

    d.backend.gate.open();
    drainUntil("the backend's answers", a -> a.size() == 6);
    assertEquals(List.of(20L, 21L, 22L), ids().subList(3, 6).stream().sorted().toList());
    ok(answer(20));
    assertTrue(answer(20).hasPersist());
    assertEquals(InProcessDaemon.INSTANCE, answer(21).getInstances().getInstances(0).getId());
    assertEquals(ErrorCode.NOT_FOUND.code(), answer(22).getError().getCode(), answer(22).toString());
    assertTrue(d.backend.lookup(new ObjectId(blob)).isPresent(), "persisted");
  }

  @Test
  void aRequestBeforeRegisterIsAProtocolErrorThatClosesTheConnection() throws Exception {
    send(5, stats());
    drainUntil("the error", a -> a.size() == 1);
    Response r = answer(5);
    assertEquals(ErrorCode.PROTOCOL_ERROR.code(), r.getError().getCode(), r.toString());
    assertFalse(onLoop(ch::isOpen), "the connection is closed");
    assertEquals(0, d.service.stats().clientCount(), "no session was opened");
  }

  @Test
  void tooManyWaitingRequestsPauseReadingUntilTheyComplete() throws Exception {
    registered();
    d.backend.gate.close();
    int n = IpcHandler.MAX_WAITING + 1;
    for (int i = 0; i < IpcHandler.MAX_WAITING - 1; i++) {
      send(100 + i, Request.newBuilder().setInstances(InstancesRequest.getDefaultInstance()));
    }
    assertTrue(onLoop(() -> ch.config().isAutoRead()), "below the limit the connection is read");
    for (int i = IpcHandler.MAX_WAITING - 1; i < n; i++) {
      send(100 + i, Request.newBuilder().setInstances(InstancesRequest.getDefaultInstance()));
    }
    assertFalse(onLoop(() -> ch.config().isAutoRead()), "past the limit reading pauses");
    drain();
    assertTrue(answers.isEmpty(), "all of them wait: " + ids());

    d.backend.gate.open();
    drainUntil("every answer", a -> a.size() == n);
    for (int i = 0; i < n; i++) {
      ok(answer(100 + i));
    }
    assertTrue(onLoop(() -> ch.config().isAutoRead()), "reading resumes once they completed");
  }
}
