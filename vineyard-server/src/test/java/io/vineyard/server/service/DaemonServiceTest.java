package io.vineyard.server.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.ObjectInfo;
import io.vineyard.server.service.DaemonService.BlobSpec;
import io.vineyard.server.store.ObjectStore.DeleteResult;
import io.vineyard.server.store.ObjectStore.Location;
import io.vineyard.server.store.Session;
import io.vineyard.server.testing.InProcessDaemon;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * The daemon service over a real store, shared memory and cluster (local metadata), in process:
 * what waits goes off the caller's thread, and everything else is served meanwhile; objects in
 * transit are freed, kept or given back exactly once; and which requests need the cluster.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DaemonServiceTest {

  private static final long CAPACITY = 1 << 20;
  private static final int BLOB = 200 << 10;
  /** How long the bystanders may take in all: far more than microseconds, far less than a stuck lock. */
  private static final Duration QUICK = Duration.ofSeconds(5);

  private InProcessDaemon d;
  private DaemonService service;
  private Session writer;
  private Session reader;

  @BeforeEach
  void setUp() {
    // Spill above 90% of memory, down to 10%: one spill pass writes out nearly everything.
    d = new InProcessDaemon(CAPACITY, 0.9, 0.1);
    service = d.service;
    writer = service.openSession("writer");
    reader = service.openSession("reader");
  }

  @AfterEach
  void tearDown() {
    d.close();
  }

  // ---------------------------------------------------------------- helpers

  private static byte[] content(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** A sealed blob holding {@code data}, made without waiting. */
  private long sealed(Session s, byte[] data) {
    return atOnce(service.putBlob(s, ByteBuffer.wrap(data))).id();
  }

  private byte[] bytesAt(Location l) {
    return d.arena.bytes(l.range()).toArray(ValueLayout.JAVA_BYTE);
  }

  private static <T> T atOnce(CompletableFuture<T> f) {
    assertTrue(f.isDone(), "answered at once");
    return f.join();
  }

  private static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(10, TimeUnit.SECONDS);
  }

  private static VineyardException failsWith(ErrorCode code, CompletableFuture<?> f) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    VineyardException v = assertInstanceOf(VineyardException.class, e.getCause());
    assertEquals(code, v.code(), v.getMessage());
    return v;
  }

  private static VineyardException throwsCode(ErrorCode code, Executable e) {
    VineyardException v = assertThrows(VineyardException.class, e);
    assertEquals(code, v.code(), v.getMessage());
    return v;
  }

  private StoreStats stats() {
    return service.stats();
  }

  /** Writes out blobs (least recently used first) until memory is at the lower mark. */
  private void spill() {
    d.store.spillToLowMark();
  }

  /** Spills on another thread, as a create that needs room would; the caller waits at the spiller's gate. */
  private Thread spillInBackground() {
    return Thread.ofVirtual().name("test-spill").start(this::spill);
  }

  /**
   * What other clients do while one request waits on I/O: each call returns at once and each future
   * is complete when returned, which they could not be if the store's monitor were held meanwhile.
   */
  private void othersAreServedMeanwhile(long residentBlob) {
    assertTimeoutPreemptively(QUICK, () -> {
      Session other = service.openSession("bystander");
      Location made = atOnce(service.createBlob(other, 1000));
      d.arena.bytes(made.range()).fill((byte) 7);
      service.seal(other, made.id(), false);
      assertTrue(service.exists(made.id()));
      Location got = atOnce(service.getBlobs(other, List.of(residentBlob))).getFirst();
      assertEquals(residentBlob, got.id());
      long put = sealed(other, new byte[] {1, 2, 3});
      StoreStats s = service.stats();
      assertTrue(s.blobCount() >= 3, s.toString());
      ObjectId obj = atOnce(service.putMeta(
          ObjectMeta.builder("t::Pair").member("a", new ObjectId(made.id())).member("b", new ObjectId(put)).build()));
      ObjectMeta meta = atOnce(service.getMeta(obj.value()));
      assertEquals(1000, meta.member("a").nbytes());
      assertTrue(atOnce(service.list("t::*", 0, false)).objects().stream().anyMatch(o -> o.meta().id().equals(obj)));
      atOnce(service.putName("pair", obj.value()));
      assertEquals(obj, atOnce(service.getName("pair")));
      service.release(other, List.of(residentBlob));
      service.closeSession(other);
    }, "another client's requests were held up by the waiting one");
  }

  // ---------------------------------------------------------------- waiting off the caller's thread

  @Test
  void aGetOfASpilledBlobWaitsOffTheCallerWhileOthersAreServed() throws Exception {
    byte[] data = content(BLOB, 1);
    long spilled = sealed(writer, data);
    spill();
    assertEquals(1, stats().spilledBlobCount());
    long resident = sealed(writer, content(4096, 2));

    d.spiller.reads.close();
    CompletableFuture<List<Location>> get = service.getBlobs(reader, List.of(spilled));
    assertFalse(get.isDone(), "a reload is not done on the caller's thread");
    assertTrue(d.spiller.reads.awaitEntered(1), "the reload started");

    othersAreServedMeanwhile(resident);
    assertFalse(get.isDone(), "still reading");

    d.spiller.reads.open();
    Location l = await(get).getFirst();
    assertEquals(spilled, l.id());
    assertArrayEquals(data, bytesAt(l), "the bytes came back");
    StoreStats s = stats();
    assertEquals(0, s.spilledBlobCount());
    assertEquals(1, s.reloads());
    assertEquals(1, s.pinnedBlobCount(), "the reader's pin");
    assertFalse(d.spiller.files.containsKey(spilled), "the spill file is dropped once loaded back");
  }

  @Test
  void aCreateThatMustSpillWaitsOffTheCallerWhileOthersAreServed() throws Exception {
    byte[] first = content(400 << 10, 3);
    long a = sealed(writer, first);
    long b = sealed(writer, content(400 << 10, 4));
    long resident = sealed(reader, content(1024, 5));

    d.spiller.writes.close();
    CompletableFuture<Location> create = service.createBlob(writer, BLOB);
    assertFalse(create.isDone(), "crossing the upper mark waits for a spill, off the caller's thread");
    assertTrue(d.spiller.writes.awaitEntered(1), "the spill started");

    othersAreServedMeanwhile(resident);
    assertFalse(create.isDone(), "still spilling");

    d.spiller.writes.open();
    Location made = await(create);
    assertEquals(BLOB, made.size());
    StoreStats s = stats();
    assertTrue(s.spilledBlobCount() >= 2, "both large blobs went out: " + s);
    assertTrue(d.spiller.files.containsKey(a) && d.spiller.files.containsKey(b));
    assertTrue(s.usedBytes() <= 0.9 * CAPACITY, "below the upper mark with the new blob: " + s);
    service.seal(writer, made.id(), false);
    assertArrayEquals(first, bytesAt(await(service.getBlobs(reader, List.of(a))).getFirst()), "and the spilled one reads back");
  }

  // ---------------------------------------------------------------- blobs in transit

  @Test
  void aBlobDeletedWhileBeingSpilledIsFreedOnce() throws Exception {
    long kept = sealed(writer, content(4096, 6));
    atOnce(service.getBlobs(reader, List.of(kept))); // pinned: never spilled
    long baseline = stats().usedBytes();
    long doomed = sealed(writer, content(BLOB, 7));

    d.spiller.writes.close();
    Thread spilling = spillInBackground();
    assertTrue(d.spiller.writes.awaitEntered(1));
    DeleteResult r = atOnce(service.delete(List.of(doomed), false, false));
    assertEquals(List.of(doomed), r.deleted());
    assertEquals(List.of(doomed), r.deferred(), "its bytes are being written: freed when that ends");
    assertFalse(service.exists(doomed));
    failsWith(ErrorCode.NOT_FOUND, service.getBlobs(reader, List.of(doomed)));

    d.spiller.writes.open();
    assertTrue(spilling.join(Duration.ofSeconds(10)));
    StoreStats s = stats();
    assertEquals(baseline, s.usedBytes(), "memory back to what it was, freed once");
    assertEquals(1, s.blobCount());
    assertEquals(0, s.spilledBlobCount());
    assertEquals(0, s.spilledBytes());
    assertFalse(d.spiller.files.containsKey(doomed), "no spill file left behind");
    assertEquals(1, d.spiller.deletes.get(doomed), "the file written meanwhile is deleted");
    // The freed range is really free: all the rest of memory can be had in one piece.
    assertEquals(CAPACITY - baseline, stats().largestFreeBytes());
  }

  @Test
  void aBlobDeletedWhileBeingLoadedBackIsFreedOnceAndItsGetFails() throws Exception {
    long kept = sealed(writer, content(4096, 8));
    atOnce(service.getBlobs(reader, List.of(kept)));
    long doomed = sealed(writer, content(BLOB, 9));
    spill();
    assertTrue(d.spiller.files.containsKey(doomed));
    long baseline = stats().usedBytes();

    d.spiller.reads.close();
    Session getter = service.openSession("getter");
    CompletableFuture<List<Location>> get = service.getBlobs(getter, List.of(doomed));
    assertTrue(d.spiller.reads.awaitEntered(1));
    DeleteResult r = atOnce(service.delete(List.of(doomed), false, false));
    assertEquals(List.of(doomed), r.deferred(), "being read back: freed when that ends");

    d.spiller.reads.open();
    failsWith(ErrorCode.NOT_FOUND, get);
    StoreStats s = stats();
    assertEquals(baseline, s.usedBytes(), "the reload target is given back, once");
    assertEquals(1, s.pinnedBlobCount(), "only the reader's pin on the kept blob");
    assertEquals(0, s.spilledBlobCount());
    assertTrue(d.spiller.files.isEmpty());
    assertEquals(1, d.spiller.deletes.get(doomed));
    assertEquals(CAPACITY - baseline, s.largestFreeBytes());
  }

  @Test
  void aBlobGotWhileBeingSpilledStaysResidentAndItsSpillFileIsDropped() throws Exception {
    byte[] data = content(BLOB, 10);
    long blob = sealed(writer, data);

    d.spiller.writes.close();
    Thread spilling = spillInBackground();
    assertTrue(d.spiller.writes.awaitEntered(1));
    Location l = atOnce(service.getBlobs(reader, List.of(blob))).getFirst();

    d.spiller.writes.open();
    assertTrue(spilling.join(Duration.ofSeconds(10)));
    StoreStats s = stats();
    assertEquals(0, s.spilledBlobCount(), "wanted again while written: not spilled");
    assertEquals(0, s.spillWrites());
    assertFalse(d.spiller.files.containsKey(blob));
    assertEquals(1, d.spiller.deletes.get(blob));
    assertArrayEquals(data, bytesAt(l), "the range handed out still holds the blob");

    service.release(reader, List.of(blob));
    spill();
    assertEquals(1, stats().spilledBlobCount(), "released, it can be spilled again");
  }

  @Test
  void aSessionClosedWhileItsGetWaitsOnAReloadKeepsNoPinAndLeaksNothing() throws Exception {
    long blob = sealed(writer, content(BLOB, 11));
    spill();
    long baseline = stats().usedBytes();
    long clients = stats().clientCount();

    d.spiller.reads.close();
    Session leaving = service.openSession("leaving");
    CompletableFuture<List<Location>> get = service.getBlobs(leaving, List.of(blob));
    assertTrue(d.spiller.reads.awaitEntered(1));
    assertTimeoutPreemptively(QUICK, () -> service.closeSession(leaving), "a disconnect waits for no I/O");

    d.spiller.reads.open();
    failsWith(ErrorCode.UNAVAILABLE, get);
    StoreStats s = stats();
    assertEquals(0, s.pinnedBlobCount(), "no pin outlives its session");
    assertEquals(clients, s.clientCount());
    atOnce(service.delete(List.of(blob), false, false));
    assertEquals(baseline, stats().usedBytes(), "nothing leaked");
    assertEquals(CAPACITY - baseline, stats().largestFreeBytes());
  }

  @Test
  void concurrentGetsOfOneSpilledBlobShareOneReload() throws Exception {
    byte[] data = content(BLOB, 12);
    long blob = sealed(writer, data);
    spill();

    d.spiller.reads.close();
    Session second = service.openSession("second");
    CompletableFuture<List<Location>> one = service.getBlobs(reader, List.of(blob));
    assertTrue(d.spiller.reads.awaitEntered(1));
    CompletableFuture<List<Location>> two = service.getBlobs(second, List.of(blob));
    assertFalse(two.isDone(), "waits for the reload under way");

    d.spiller.reads.open();
    Location a = await(one).getFirst();
    Location b = await(two).getFirst();
    assertEquals(a, b, "one copy in memory");
    assertEquals(1, d.spiller.readCount.get(), "read back once");
    assertArrayEquals(data, bytesAt(a));
    assertEquals(1, stats().pinnedBlobCount());
    assertEquals(1, stats().reloads());
    service.closeSession(second);
    service.release(reader, List.of(blob));
    assertEquals(0, stats().pinnedBlobCount());
  }

  // ---------------------------------------------------------------- all or nothing

  @Test
  void aBatchCreateIsAllOrNothing() throws Exception {
    List<BlobSpec> tooMuch = List.of(
        new BlobSpec(1000, ByteBuffer.wrap(content(1000, 13))),
        new BlobSpec(2000, null),
        new BlobSpec(2 * CAPACITY, null));
    failsWith(ErrorCode.OUT_OF_MEMORY, service.createBlobs(writer, tooMuch));
    StoreStats s = stats();
    assertEquals(0, s.usedBytes());
    assertEquals(0, s.blobCount());
    assertEquals(0, s.unsealedBlobCount());
    assertTrue(atOnce(service.list(null, 0, false)).objects().isEmpty(), "the sealed first one was taken back too");

    // With something to spill the batch is retried off the caller's thread: still none or all.
    long evictable = sealed(writer, content(BLOB, 14));
    long before = stats().usedBytes();
    failsWith(ErrorCode.OUT_OF_MEMORY, service.createBlobs(writer, tooMuch));
    s = stats();
    assertEquals(before, s.usedBytes());
    assertEquals(1, s.blobCount());
    assertEquals(0, s.unsealedBlobCount());
    assertEquals(List.of(evictable), atOnce(service.list(null, 0, false)).objects().stream()
        .map(o -> o.meta().id().value()).toList());

    failsWith(ErrorCode.INVALID_ARGUMENT, service.createBlobs(writer, List.of(
        new BlobSpec(10, ByteBuffer.wrap(new byte[10])), new BlobSpec(10, ByteBuffer.wrap(new byte[9])))));
    failsWith(ErrorCode.INVALID_ARGUMENT, service.createBlobs(writer, List.of(new BlobSpec(10, null), new BlobSpec(-1, null))));
    assertEquals(1, stats().blobCount());
    assertEquals(before, stats().usedBytes());

    List<Location> made = await(service.createBlobs(writer, List.of(new BlobSpec(10, null), new BlobSpec(20, null))));
    assertEquals(2, made.size());
    assertEquals(2, stats().unsealedBlobCount());
  }

  @Test
  void sealAllIsAllOrNothing() {
    long a = atOnce(service.createBlob(writer, 10)).id();
    long b = atOnce(service.createBlob(writer, 10)).id();
    long theirs = atOnce(service.createBlob(reader, 10)).id();

    throwsCode(ErrorCode.PERMISSION_DENIED, () -> service.sealAll(writer, List.of(a, b, theirs), false));
    assertFalse(service.exists(a), "none sealed");
    assertFalse(service.exists(b));
    failsWith(ErrorCode.NOT_SEALED, service.getBlobs(reader, List.of(a)));
    throwsCode(ErrorCode.INVALID_ARGUMENT, () -> service.sealAll(writer, List.of(a, b, a), false));
    throwsCode(ErrorCode.NOT_FOUND, () -> service.sealAll(writer, List.of(a, ObjectId.of(true, InProcessDaemon.INSTANCE, 999).value()), false));
    assertEquals(3, stats().unsealedBlobCount());

    service.seal(writer, a, false);
    throwsCode(ErrorCode.ALREADY_SEALED, () -> service.sealAll(writer, List.of(b, a), false));
    assertFalse(service.exists(b), "b stays unsealed when a was sealed already");

    service.sealAll(writer, List.of(b), true);
    assertTrue(service.exists(b));
    assertEquals(1, stats().pinnedBlobCount(), "kept pinned as asked");
    assertEquals(1, stats().unsealedBlobCount(), "only the other client's");
  }

  // ---------------------------------------------------------------- local or cluster

  @Test
  void getMetaOfAnUnknownIdMintedHereFailsWithoutAskingTheBackend() {
    long object = ObjectId.of(false, InProcessDaemon.INSTANCE, 4242).value();
    long blob = ObjectId.of(true, InProcessDaemon.INSTANCE, 4242).value();
    d.backend.gate.close(); // were it asked, the answer could not be at once
    failsWith(ErrorCode.NOT_FOUND, assertDone(service.getMeta(object)));
    failsWith(ErrorCode.NOT_FOUND, assertDone(service.getMeta(blob)));
    assertEquals(0, d.backend.lookups.get(), "an id of this instance that is not here is nowhere");
  }

  private static <T> CompletableFuture<T> assertDone(CompletableFuture<T> f) {
    assertTrue(f.isDone(), "answered at once");
    return f;
  }

  @Test
  void getMetaOfAnotherInstancesIdAsksTheBackend() throws Exception {
    ObjectId remote = ObjectId.of(false, 99, 5);
    failsWith(ErrorCode.NOT_FOUND, service.getMeta(remote.value()));
    assertEquals(1, d.backend.lookups.get());

    ObjectMeta published = ObjectMeta.of(remote, "t::Remote", 64, 99, false, Map.of(), Map.of());
    d.backend.publish(List.of(published));
    d.backend.gate.close();
    CompletableFuture<ObjectMeta> get = service.getMeta(remote.value());
    assertTrue(d.backend.gate.awaitEntered(1), "the lookup went to the backend");
    assertFalse(get.isDone(), "and waits for it off the caller's thread");
    d.backend.gate.open();
    assertEquals(published, await(get));
    assertEquals(2, d.backend.lookups.get());
  }

  @Test
  void aGlobalObjectIsStoredHereAndPublished() throws Exception {
    long blob = sealed(writer, content(64, 15));
    long part = atOnce(service.putMeta(ObjectMeta.builder("t::Part").member("data", new ObjectId(blob)).build())).value();
    ObjectMeta global = ObjectMeta.builder("t::Global").global(true).member("part-0", new ObjectId(part)).build();
    failsWith(ErrorCode.INVALID_ARGUMENT, service.putMeta(global)); // not persisted yet
    failsWith(ErrorCode.INVALID_ARGUMENT, service.putMeta(ObjectMeta.builder("t::Global").global(true).build()));
    failsWith(ErrorCode.NOT_FOUND, service.putMeta(
        ObjectMeta.builder("t::Global").global(true).member("x", ObjectId.of(false, 99, 1)).build()));

    await(service.persist(part));
    ObjectId g = await(service.putMeta(global));
    assertTrue(service.exists(g.value()), "stored in this daemon");
    List<ObjectInfo> local = atOnce(service.list("t::Global", 0, false)).objects();
    assertEquals(List.of(g), local.stream().map(o -> o.meta().id()).toList(), "listed locally");
    ObjectMeta stored = atOnce(service.getMeta(g.value()));
    assertTrue(stored.isGlobal());
    assertEquals(64, stored.nbytes());
    assertEquals(stored, d.backend.lookup(g).orElseThrow(), "published as stored");
    assertTrue(await(service.list("t::*", 0, true)).objects().stream().anyMatch(o -> o.meta().id().equals(g)));
  }

  @Test
  void deletingAPersistedObjectWithdrawsItBeforeAnswering() throws Exception {
    long blob = sealed(writer, content(64, 16));
    ObjectId obj = atOnce(service.putMeta(ObjectMeta.builder("t::Part").member("data", new ObjectId(blob)).build()));
    await(service.persist(obj.value()));
    assertTrue(d.backend.lookup(obj).isPresent());

    d.backend.gate.close();
    CompletableFuture<DeleteResult> del = service.delete(List.of(obj.value()), false, false);
    assertTrue(d.backend.gate.awaitEntered(1), "the withdrawal went to the backend");
    assertFalse(del.isDone(), "not answered before it is withdrawn");
    assertFalse(service.exists(obj.value()), "gone here at once");
    d.backend.gate.open();
    assertEquals(List.of(obj.value()), await(del).deleted());
    assertTrue(d.backend.lookup(obj).isEmpty(), "withdrawn by the time the delete answered");

    // Deleting what was never persisted answers at once.
    long other = sealed(writer, content(8, 17));
    assertEquals(List.of(other), atOnce(service.delete(List.of(other), false, false)).deleted());
  }

  // ---------------------------------------------------------------- failures

  @Test
  void everyFailureIsAVineyardExceptionWithItsCode() throws Exception {
    long blob = sealed(writer, content(64, 18));
    long unsealed = atOnce(service.createBlob(writer, 8)).id();
    long unknownBlob = ObjectId.of(true, InProcessDaemon.INSTANCE, 777).value();
    long obj = atOnce(service.putMeta(ObjectMeta.builder("t::Holder").member("b", new ObjectId(blob)).build())).value();

    failsWith(ErrorCode.INVALID_ARGUMENT, service.createBlob(writer, -1));
    failsWith(ErrorCode.NOT_FOUND, service.getBlobs(reader, List.of(blob, unknownBlob)));
    assertEquals(0, stats().pinnedBlobCount(), "a failed get pins none");
    failsWith(ErrorCode.NOT_SEALED, service.getBlobs(reader, List.of(unsealed)));
    throwsCode(ErrorCode.PERMISSION_DENIED, () -> service.seal(reader, unsealed, false));
    throwsCode(ErrorCode.PERMISSION_DENIED, () -> service.abort(reader, unsealed));
    throwsCode(ErrorCode.ALREADY_SEALED, () -> service.abort(writer, blob));
    throwsCode(ErrorCode.NOT_FOUND, () -> service.seal(writer, unknownBlob, false));
    failsWith(ErrorCode.INVALID_ARGUMENT, service.readBlob(obj, "reader"));
    failsWith(ErrorCode.OBJECT_IN_USE, service.delete(List.of(blob), false, false));
    failsWith(ErrorCode.NOT_FOUND, service.delete(List.of(unknownBlob), false, false));
    failsWith(ErrorCode.INVALID_ARGUMENT, service.putMeta(ObjectMeta.builder(ObjectMeta.BLOB_TYPENAME).build()));
    failsWith(ErrorCode.NOT_FOUND, service.putMeta(ObjectMeta.builder("t::X").member("m", new ObjectId(unknownBlob)).build()));
    failsWith(ErrorCode.NOT_SEALED, service.putMeta(ObjectMeta.builder("t::X").member("m", new ObjectId(unsealed)).build()));
    failsWith(ErrorCode.NOT_FOUND, service.getName("nobody"));
    failsWith(ErrorCode.INVALID_ARGUMENT, service.putName("", obj));
    failsWith(ErrorCode.NOT_FOUND, service.dropName("nobody"));
    failsWith(ErrorCode.NOT_FOUND, service.persist(ObjectId.of(false, InProcessDaemon.INSTANCE, 888).value()));
    failsWith(ErrorCode.OUT_OF_MEMORY, service.createBlob(writer, 2 * CAPACITY));

    // Spill I/O that fails: the get fails with IO_ERROR, pins nothing, and the blob stays spilled.
    long big = sealed(writer, content(BLOB, 19));
    spill();
    d.spiller.failReads = true;
    failsWith(ErrorCode.IO_ERROR, service.getBlobs(reader, List.of(big)));
    assertEquals(0, stats().pinnedBlobCount());
    d.spiller.failReads = false;
    assertNotNull(await(service.getBlobs(reader, List.of(big))));

    Session late = service.openSession("late");
    service.closeSession(late);
    failsWith(ErrorCode.UNAVAILABLE, service.createBlob(late, 8));
    failsWith(ErrorCode.UNAVAILABLE, service.getBlobs(late, List.of(blob)));

    service.close();
    failsWith(ErrorCode.UNAVAILABLE, service.persist(obj));
    failsWith(ErrorCode.UNAVAILABLE, service.instances());
  }
}
