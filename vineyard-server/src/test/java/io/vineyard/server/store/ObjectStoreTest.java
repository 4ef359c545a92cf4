package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.StoreStats;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import io.vineyard.server.memory.MemoryArena;
import java.nio.file.Path;
import io.vineyard.server.memory.BlobAllocator;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ObjectStoreTest {

  private static final long INSTANCE = 3;
  private static final long CAPACITY = 1 << 20;

  private ObjectStore store;
  private Session writer;
  private Session reader;

  private final List<MemoryArena> arenas = new ArrayList<>();

  /** Real shared memory (a tmpfs file), closed after the test. */
  private MemoryArena newArena(long capacity) {
    MemoryArena a = MemoryArena.create(Path.of("/dev/shm/vineyard-unit-tests"), capacity, false);
    arenas.add(a);
    return a;
  }

  @AfterEach
  void closeArenas() {
    arenas.forEach(MemoryArena::close);
  }

  @BeforeEach
  void setUp() {
    store = new ObjectStore(INSTANCE, newArena(CAPACITY), 5);
    writer = store.openSession("writer");
    reader = store.openSession("reader");
  }

  // ---------------------------------------------------------------- helpers

  private static VineyardException assertCode(ErrorCode code, Executable e) {
    VineyardException ex = assertThrows(VineyardException.class, e);
    assertEquals(code, ex.code(), ex.getMessage());
    return ex;
  }

  private long used() {
    return store.stats().usedBytes();
  }

  private long sealedBlob(long size) {
    long id = store.createBlob(writer, size).id();
    store.seal(writer, id, false);
    return id;
  }

  /** Stores an object through the same conversion the client uses. */
  private long put(String typename, Map<String, Long> members) {
    ObjectMeta.Builder b = ObjectMeta.builder(typename).field("tag", typename);
    members.forEach((name, id) -> b.member(name, new ObjectId(id)));
    return store.putMeta(b.build());
  }

  private int pins(long blob) {
    return store.pinsSnapshot().getOrDefault(blob, 0);
  }

  private Set<Long> ids(List<ObjectInfo> entries) {
    Set<Long> out = new HashSet<>();
    entries.forEach(e -> out.add(e.meta().id().value()));
    return out;
  }

  // ---------------------------------------------------------------- blob lifecycle

  @Test
  void createSealGetRelease() {
    long start = used();
    ObjectStore.Location loc = store.createBlob(writer, 1000);
    ObjectId id = new ObjectId(loc.id());
    assertTrue(id.isBlob());
    assertEquals(INSTANCE, id.instanceId());
    assertEquals(0, loc.region());
    assertEquals(0, loc.offset() % BlobAllocator.ALIGNMENT);
    assertEquals(1000, loc.size());
    assertEquals(start + BlobAllocator.footprint(1000), used());
    assertEquals(1, store.stats().unsealedBlobCount());
    assertFalse(store.exists(loc.id()), "an unsealed blob is not visible");

    store.seal(writer, loc.id(), false);
    assertTrue(store.exists(loc.id()));
    assertEquals(0, store.stats().unsealedBlobCount());
    assertEquals(0, pins(loc.id()), "sealing without keepPinned drops the creator's pin");

    List<ObjectStore.Location> got = store.getBlobs(reader, List.of(loc.id()));
    assertEquals(List.of(loc), got, "get returns where the writer wrote");
    assertEquals(1, pins(loc.id()));
    assertEquals(Map.of(loc.id(), 1), reader.pins);
    assertEquals(1, store.stats().pinnedBlobCount());

    ObjectMeta meta = store.getMeta(loc.id());
    assertEquals(ObjectMeta.BLOB_TYPENAME, meta.typename());
    assertEquals(1000, meta.nbytes());
    assertEquals(INSTANCE, meta.instanceId());
    assertEquals(loc.id(), meta.id().value());

    store.release(reader, List.of(loc.id()));
    assertEquals(0, pins(loc.id()));
    assertTrue(reader.pins.isEmpty());
    assertEquals(0, store.stats().pinnedBlobCount());
    assertTrue(store.exists(loc.id()), "releasing does not delete");
    assertEquals(start + BlobAllocator.footprint(1000), used());
  }

  @Test
  void pinsAreCountedPerGetAndReleasedOneAtATime() {
    long id = sealedBlob(100);
    store.getBlobs(reader, List.of(id, id));
    store.getBlobs(reader, List.of(id));
    store.getBlobs(writer, List.of(id));
    assertEquals(4, pins(id));
    assertEquals(3, reader.pins.get(id));
    store.release(reader, List.of(id));
    assertEquals(3, pins(id));
    store.release(reader, List.of(id, id));
    assertEquals(1, pins(id));
    store.release(reader, List.of(id));
    assertEquals(1, pins(id), "releasing a pin the session does not hold must not drop another client's pin");
    assertFalse(reader.pins.containsKey(id));
    store.release(reader, List.of(42L, ObjectId.of(true, 1, 1).value())); // unknown ids are ignored
    assertEquals(1, pins(id));
  }

  @Test
  void sealAndAbortByANonCreatorAreDenied() {
    long id = store.createBlob(writer, 64).id();
    assertCode(ErrorCode.PERMISSION_DENIED, () -> store.seal(reader, id, false));
    assertCode(ErrorCode.PERMISSION_DENIED, () -> store.abort(reader, id));
    assertFalse(store.exists(id));
    assertEquals(1, store.stats().unsealedBlobCount());
    store.seal(writer, id, false); // the creator still can
    assertTrue(store.exists(id));
  }

  @Test
  void doubleSealIsRejected() {
    long id = sealedBlob(10);
    assertCode(ErrorCode.ALREADY_SEALED, () -> store.seal(writer, id, false));
    assertCode(ErrorCode.ALREADY_SEALED, () -> store.seal(writer, id, true));
    assertCode(ErrorCode.ALREADY_SEALED, () -> store.abort(writer, id));
    assertEquals(0, pins(id), "a failed seal must not pin");
    assertEquals(0, store.stats().unsealedBlobCount(), "the unsealed count must not go negative");
  }

  @Test
  void sealingUnknownBlobsIsNotFound() {
    assertCode(ErrorCode.NOT_FOUND, () -> store.seal(writer, ObjectId.of(true, INSTANCE, 1).value(), false));
    assertCode(ErrorCode.NOT_FOUND, () -> store.abort(writer, ObjectId.of(true, INSTANCE, 1).value()));
  }

  @Test
  void getOfAnUnsealedBlobIsNotSealed() {
    long id = store.createBlob(writer, 10).id();
    assertCode(ErrorCode.NOT_SEALED, () -> store.getBlobs(reader, List.of(id)));
    assertCode(ErrorCode.NOT_SEALED, () -> store.getBlobs(writer, List.of(id)));
    assertCode(ErrorCode.NOT_SEALED, () -> store.getMeta(id));
    assertEquals(0, pins(id));
  }

  @Test
  void getOfAnUnknownIdIsNotFound() {
    long unknown = ObjectId.of(true, INSTANCE, 12345).value();
    VineyardException e = assertCode(ErrorCode.NOT_FOUND, () -> store.getBlobs(reader, List.of(unknown)));
    assertTrue(e.getMessage().contains(new ObjectId(unknown).toString()), e.getMessage());
    assertCode(ErrorCode.NOT_FOUND, () -> store.getMeta(unknown));
    assertFalse(store.exists(unknown));
  }

  @Test
  void getBlobsIsAllOrNothing() {
    long a = sealedBlob(10);
    long b = sealedBlob(20);
    long unsealed = store.createBlob(writer, 30).id();
    long unknown = ObjectId.of(true, INSTANCE, 999).value();
    assertCode(ErrorCode.NOT_FOUND, () -> store.getBlobs(reader, List.of(a, b, unknown)));
    assertCode(ErrorCode.NOT_SEALED, () -> store.getBlobs(reader, List.of(a, unsealed, b)));
    assertEquals(0, pins(a), "no pin may be taken when one id is bad");
    assertEquals(0, pins(b));
    assertTrue(reader.pins.isEmpty());
    assertEquals(0, store.stats().pinnedBlobCount());
    assertEquals(2, store.getBlobs(reader, List.of(a, b)).size());
  }

  @Test
  void abortFreesTheBlob() {
    long start = used();
    long id = store.createBlob(writer, 5000).id();
    store.abort(writer, id);
    assertEquals(start, used());
    assertEquals(0, store.stats().unsealedBlobCount());
    assertCode(ErrorCode.NOT_FOUND, () -> store.seal(writer, id, false));
    assertTrue(writer.unsealed.isEmpty());
  }

  @Test
  void emptyBlobsTakeNoMemory() {
    long start = used();
    long a = sealedBlob(0);
    long b = sealedBlob(0);
    assertNotEquals(a, b);
    assertEquals(start, used());
    List<ObjectStore.Location> locs = store.getBlobs(reader, List.of(a, b));
    assertEquals(0, locs.get(0).size());
    store.release(reader, List.of(a, b));
    assertEquals(List.of(a, b), store.delete(List.of(a, b), false, false).deleted());
    assertEquals(start, used());
  }

  @Test
  void negativeSizeIsInvalid() {
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.createBlob(writer, -1));
  }

  // ---------------------------------------------------------------- deferred delete

  @Test
  void deleteWhilePinnedIsDeferredUntilTheLastRelease() {
    long start = used();
    long id = sealedBlob(10_000);
    long footprint = BlobAllocator.footprint(10_000);
    store.putName("data", id);
    store.getBlobs(reader, List.of(id));
    store.getBlobs(writer, List.of(id));

    ObjectStore.DeleteResult r = store.delete(List.of(id), false, false);
    assertEquals(List.of(id), r.deleted());
    assertEquals(List.of(id), r.deferred());
    // Hidden at once...
    assertFalse(store.exists(id));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getBlobs(reader, List.of(id)));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getMeta(id));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("data"));
    assertCode(ErrorCode.NOT_FOUND, () -> store.delete(List.of(id), false, false));
    assertCode(ErrorCode.NOT_FOUND, () -> store.putName("again", id));
    assertFalse(ids(store.list("", 100).objects()).contains(id));
    assertEquals(0, store.stats().blobCount());
    assertEquals(0, store.stats().objectCount());
    // ...but its memory is still in use by the readers.
    assertEquals(start + footprint, used());

    store.release(reader, List.of(id));
    assertEquals(start + footprint, used(), "one pin is left");
    store.release(writer, List.of(id));
    assertEquals(start, used(), "freed with the last pin");
    assertFalse(store.pinsSnapshot().containsKey(id));
    store.release(writer, List.of(id)); // harmless now
    assertEquals(start, used());
  }

  @Test
  void aDeferredBlobIsFreedWhenItsPinnerDisconnects() {
    long start = used();
    long id = sealedBlob(4096);
    store.getBlobs(reader, List.of(id));
    store.delete(List.of(id), false, false);
    assertEquals(start + 4096, used());
    store.closeSession(reader);
    assertEquals(start, used());
  }

  @Test
  void keepPinnedHoldsTheBlobForItsCreator() {
    long start = used();
    long id = store.createBlob(writer, 640).id();
    store.seal(writer, id, true);
    assertEquals(1, pins(id));
    assertEquals(Map.of(id, 1), writer.pins);
    ObjectStore.DeleteResult r = store.delete(List.of(id), false, false);
    assertEquals(List.of(id), r.deferred());
    assertEquals(start + 640, used());
    store.release(writer, List.of(id));
    assertEquals(start, used());
  }

  @Test
  void deleteOfAnUnpinnedBlobFreesAtOnceAndTheSpaceIsReused() {
    long id = sealedBlob(CAPACITY);
    assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.createBlob(writer, 1));
    ObjectStore.DeleteResult r = store.delete(List.of(id), false, false);
    assertEquals(List.of(id), r.deleted());
    assertTrue(r.deferred().isEmpty());
    assertEquals(0, used());
    assertEquals(0, store.createBlob(writer, CAPACITY).offset());
  }

  // ---------------------------------------------------------------- sessions

  @Test
  void closeSessionDropsPinsAndReclaimsUnsealedBlobs() {
    long start = used();
    long kept = sealedBlob(1000); // sealed by writer: survives writer's disconnect
    long afterKept = used();
    Session s = store.openSession("short-lived");
    assertEquals(3, store.stats().clientCount());
    long u1 = store.createBlob(s, 100_000).id();
    long u2 = store.createBlob(s, 1).id();
    long u3 = store.createBlob(s, 0).id();
    long mine = store.createBlob(s, 500).id();
    store.seal(s, mine, true);
    store.getBlobs(s, List.of(kept, kept));
    assertEquals(3, store.stats().unsealedBlobCount());
    assertEquals(2, pins(kept));
    assertEquals(1, pins(mine));

    store.closeSession(s);
    assertEquals(2, store.stats().clientCount());
    assertEquals(0, store.stats().unsealedBlobCount());
    assertEquals(0, store.stats().pinnedBlobCount());
    assertEquals(0, pins(kept));
    assertEquals(0, pins(mine));
    assertTrue(s.pins.isEmpty());
    assertTrue(s.unsealed.isEmpty());
    for (long u : new long[] {u1, u2, u3}) {
      assertCode(ErrorCode.NOT_FOUND, () -> store.seal(s, u, false));
      assertFalse(store.pinsSnapshot().containsKey(u), "reclaimed blobs are gone");
    }
    assertTrue(store.exists(kept));
    assertTrue(store.exists(mine), "a sealed blob outlives its creator");
    assertEquals(afterKept + BlobAllocator.footprint(500), used());

    store.delete(List.of(mine), false, false);
    assertEquals(afterKept, used());
    store.delete(List.of(kept), false, false);
    assertEquals(start, used(), "used bytes back to the start");

    store.closeSession(s); // a second close is harmless
    assertEquals(2, store.stats().clientCount());
  }

  @Test
  void closingAllSessionsReturnsAllUnsealedMemory() {
    long start = used();
    for (int i = 0; i < 50; i++) {
      store.createBlob(i % 2 == 0 ? writer : reader, 1000 + i);
    }
    assertTrue(used() > start);
    store.closeSession(writer);
    store.closeSession(reader);
    assertEquals(start, used());
    assertEquals(CAPACITY, store.stats().largestFreeBytes(), "freed ranges coalesce again");
    assertEquals(0, store.stats().blobCount());
  }

  @Test
  void sessionsGetDistinctIds() {
    Session s = store.openSession(null);
    assertEquals("", s.name());
    assertNotEquals(writer.id(), reader.id());
    assertNotEquals(reader.id(), s.id());
    assertEquals("writer", writer.name());
  }

  // ---------------------------------------------------------------- metadata

  @Test
  void putMetaWithAnUnknownOrUnsealedMemberIsRejectedAndStoresNothing() {
    long good = sealedBlob(10);
    long unsealed = store.createBlob(writer, 10).id();
    long unknown = ObjectId.of(false, INSTANCE, 4242).value();
    long objects = store.stats().objectCount();
    VineyardException e =
        assertCode(ErrorCode.NOT_FOUND, () -> put("T", Map.of("ok", good, "missing", unknown)));
    assertTrue(e.getMessage().contains("'missing'"), e.getMessage());
    e = assertCode(ErrorCode.NOT_SEALED, () -> put("T", Map.of("ok", good, "pending", unsealed)));
    assertTrue(e.getMessage().contains("'pending'"), e.getMessage());
    assertEquals(objects, store.stats().objectCount());
    // A failed put must not leave a back-reference that blocks deleting the good member.
    assertEquals(List.of(good), store.delete(List.of(good), false, false).deleted());

    long deleted = sealedBlob(10);
    store.delete(List.of(deleted), false, false);
    assertCode(ErrorCode.NOT_FOUND, () -> put("T", Map.of("gone", deleted)));
  }

  @Test
  void putMetaValidatesTheTypename() {
    ObjectMeta noType = ObjectMeta.of(null, "", 0, 0, false, Map.of(), Map.of());
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.putMeta(noType));
    ObjectMeta blank = ObjectMeta.of(null, "  ", 0, 0, false, Map.of(), Map.of());
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.putMeta(blank));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> put(ObjectMeta.BLOB_TYPENAME, Map.of()));
  }

  @Test
  void putMetaAssignsIdAndInstanceAndIgnoresClientSuppliedOnes() {
    ObjectMeta m = ObjectMeta.of(new ObjectId(77), "T", 0, 99, false, Map.of(), Map.of());
    long id = store.putMeta(m);
    assertNotEquals(77, id);
    ObjectId oid = new ObjectId(id);
    assertFalse(oid.isBlob());
    assertEquals(INSTANCE, oid.instanceId());
    ObjectMeta back = store.getMeta(id);
    assertEquals(id, back.id().value());
    assertEquals(INSTANCE, back.instanceId());
    assertTrue(store.exists(id));
    assertFalse(store.exists(77));
  }

  @Test
  void getMetaExpandsMembersAndKeepsFields() {
    long a = sealedBlob(100);
    long b = sealedBlob(200);
    long inner = put("Inner", Map.of("data", a));
    long outer =
        store.putMeta(
                ObjectMeta.builder("Outer")
                    .field("rows", 7L)
                    .jsonField("schema", "{}")
                    .member("inner", new ObjectId(inner))
                    .member("extra", new ObjectId(b))
                    .build());
    ObjectMeta m = store.getMeta(outer);
    assertEquals(new ObjectId(outer), m.id());
    assertEquals("Outer", m.typename());
    assertEquals(7, m.getLong("rows"));
    assertEquals(new ObjectMeta.Json("{}"), m.fields().get("schema"));
    assertFalse(m.isGlobal(), "a local object (global ones are stored with putGlobal)");
    assertEquals(INSTANCE, m.instanceId());
    ObjectMeta in = m.member("inner");
    assertFalse(in.isReference(), "members come back expanded");
    assertEquals("Inner", in.typename());
    assertEquals("Inner", in.getString("tag"));
    ObjectMeta data = in.member("data");
    assertEquals(ObjectMeta.BLOB_TYPENAME, data.typename());
    assertEquals(new ObjectId(a), data.id());
    assertEquals(100, data.nbytes());
    assertEquals(200, m.member("extra").nbytes());
    assertEquals(300, m.nbytes());
  }

  @Test
  void nbytesCountsDistinctBlobsOnce() {
    long a = sealedBlob(100);
    long b = sealedBlob(200);
    long c = sealedBlob(50);
    long x = put("X", Map.of("first", a, "second", b, "firstAgain", a));
    assertEquals(300, store.getMeta(x).nbytes());
    long y = put("Y", Map.of("x", x, "b", b, "c", c));
    assertEquals(350, store.getMeta(y).nbytes(), "b is under y twice (directly and via x) but counts once");
    long z = put("Z", Map.of("x", x, "y", y));
    assertEquals(350, store.getMeta(z).nbytes());
    assertEquals(0, store.getMeta(put("Empty", Map.of())).nbytes());
    long explicit =
        store.putMeta(ObjectMeta.builder("E").member("a", new ObjectId(a)).nbytes(12345).build());
    assertEquals(12345, store.getMeta(explicit).nbytes(), "an explicit nbytes is kept");
  }

  // ---------------------------------------------------------------- delete with references

  @Test
  void deletingAReferencedObjectWithoutForceIsInUseAndDeletesNothing() {
    long start = used();
    long a = sealedBlob(100);
    long other = sealedBlob(100);
    long x = put("X", Map.of("a", a));
    long y = put("Y", Map.of("x", x));
    store.putName("y", y);
    long objects = store.stats().objectCount();

    VineyardException e = assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(other, a), false, false));
    assertTrue(e.getMessage().contains(new ObjectId(x).toString()), e.getMessage());
    assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(x), false, true));
    assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(a, x), false, false)); // y still refers to x
    assertCode(ErrorCode.NOT_FOUND, () -> store.delete(List.of(other, ObjectId.of(false, 1, 1).value()), false, false));
    assertEquals(objects, store.stats().objectCount(), "nothing deleted");
    assertTrue(store.exists(other));
    assertTrue(store.exists(a));
    assertEquals(y, store.getName("y"));

    // Deleting the referrers in the same call is fine without force.
    ObjectStore.DeleteResult r = store.delete(List.of(a, x, y), false, false);
    assertEquals(Set.of(a, x, y), new HashSet<>(r.deleted()));
    assertEquals(3, r.deleted().size(), "each object is reported once");
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("y"));
    store.delete(List.of(other), false, false);
    assertEquals(start, used());
  }

  @Test
  void forceDeletesTheReferrersTooButNotTheirOtherMembers() {
    long a = sealedBlob(100);
    long c = sealedBlob(300);
    long x = put("X", Map.of("a", a, "c", c));
    long y = put("Y", Map.of("x", x));
    long unrelated = put("U", Map.of("c", c));
    store.putName("x", x);
    store.putName("y", y);

    ObjectStore.DeleteResult r = store.delete(List.of(a), true, false);
    assertEquals(Set.of(a, x, y), new HashSet<>(r.deleted()));
    assertEquals(3, r.deleted().size());
    assertTrue(r.deferred().isEmpty());
    for (long gone : new long[] {a, x, y}) {
      assertFalse(store.exists(gone));
    }
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("x"));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("y"));
    assertEquals(0, store.stats().nameCount());
    assertTrue(store.exists(c), "force without deep leaves the referrers' other members");
    assertTrue(store.exists(unrelated));
    assertEquals(300, store.getMeta(unrelated).nbytes());
    // c is now referenced only by U.
    assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(c), false, false));
    store.delete(List.of(unrelated), false, false);
    assertEquals(List.of(c), store.delete(List.of(c), false, false).deleted());
    assertEquals(0, used());
  }

  @Test
  void deepDeleteRemovesUnsharedMembersAndKeepsSharedOnes() {
    long own = sealedBlob(1000);
    long shared = sealedBlob(2000);
    long nestedBlob = sealedBlob(64);
    long nested = put("Nested", Map.of("blob", nestedBlob));
    long p = put("P", Map.of("own", own, "shared", shared, "nested", nested));
    long q = put("Q", Map.of("shared", shared));

    ObjectStore.DeleteResult r = store.delete(List.of(p), false, true);
    assertEquals(Set.of(p, own, nested, nestedBlob), new HashSet<>(r.deleted()));
    assertEquals(4, r.deleted().size());
    assertTrue(store.exists(shared));
    assertTrue(store.exists(q));
    assertEquals(shared, store.getMeta(q).member("shared").id().value());
    assertEquals(BlobAllocator.footprint(2000), used());

    store.delete(List.of(q), false, true);
    assertFalse(store.exists(shared), "the last referrer went, deep took the member with it");
    assertEquals(0, used());
    assertEquals(0, store.stats().objectCount());
  }

  @Test
  void deepDeleteDefersPinnedMembers() {
    long blob = sealedBlob(4096);
    long p = put("P", Map.of("b", blob));
    store.getBlobs(reader, List.of(blob));
    ObjectStore.DeleteResult r = store.delete(List.of(p), false, true);
    assertEquals(Set.of(p, blob), new HashSet<>(r.deleted()));
    assertEquals(List.of(blob), r.deferred());
    assertFalse(store.exists(blob));
    assertEquals(4096, used());
    store.release(reader, List.of(blob));
    assertEquals(0, used());
  }

  @Test
  void deepDeleteDoesNotDependOnTheOrderOfTargets() {
    // P1 holds a and b, P2 holds a and c. Deleting {a, P1, P2} deep leaves b and c unreferenced, so
    // all five go, whatever the order of the targets (and with a pinned, a's memory waits for it).
    List<List<Integer>> orders =
        List.of(List.of(0, 1, 2), List.of(0, 2, 1), List.of(1, 0, 2), List.of(1, 2, 0), List.of(2, 0, 1), List.of(2, 1, 0));
    for (boolean pinned : new boolean[] {false, true}) {
      for (List<Integer> order : orders) {
        String which = "order " + order + (pinned ? ", a pinned" : "");
        ObjectStore s = new ObjectStore(INSTANCE, newArena(CAPACITY), 100);
        Session w = s.openSession("w");
        long[] blobs = new long[3];
        for (int i = 0; i < 3; i++) {
          blobs[i] = s.createBlob(w, 100 * (i + 1)).id();
          s.seal(w, blobs[i], false);
        }
        long a = blobs[0];
        long p1 = s.putMeta(ObjectMeta.builder("P").member("a", new ObjectId(a)).member("b", new ObjectId(blobs[1])).build());
        long p2 = s.putMeta(ObjectMeta.builder("P").member("a", new ObjectId(a)).member("c", new ObjectId(blobs[2])).build());
        if (pinned) {
          s.getBlobs(w, List.of(a));
        }
        long[] candidates = {a, p1, p2};
        List<Long> targets = order.stream().map(i -> candidates[i]).toList();

        ObjectStore.DeleteResult r = s.delete(targets, false, true);
        assertEquals(Set.of(a, blobs[1], blobs[2], p1, p2), new HashSet<>(r.deleted()), which);
        assertEquals(5, r.deleted().size(), which + ": each object is reported once");
        assertEquals(pinned ? List.of(a) : List.of(), r.deferred(), which);
        assertEquals(0, s.stats().objectCount(), which);
        assertEquals(pinned ? BlobAllocator.footprint(100) : 0, s.stats().usedBytes(), which);
        s.closeSession(w);
        assertEquals(0, s.stats().usedBytes(), which);
      }
    }
  }

  @Test
  void deleteWithDuplicateTargetsDeletesOnce() {
    long a = sealedBlob(100);
    ObjectStore.DeleteResult r = store.delete(List.of(a, a), false, false);
    assertEquals(List.of(a), r.deleted());
    assertEquals(0, used());
  }

  // ---------------------------------------------------------------- names

  @Test
  void namesCanBePutGotRebindAndDropped() {
    long a = sealedBlob(10);
    long x = put("X", Map.of("a", a));
    store.putName("frame", x);
    store.putName("alias", x);
    store.putName("raw", a);
    assertEquals(x, store.getName("frame"));
    assertEquals(x, store.getName("alias"));
    assertEquals(a, store.getName("raw"));
    assertEquals(3, store.stats().nameCount());

    store.putName("frame", a); // rebinding moves the name
    assertEquals(a, store.getName("frame"));
    Map<Long, List<String>> byId = new java.util.HashMap<>();
    store.list("", 100).objects().forEach(e -> byId.put(e.meta().id().value(), e.names()));
    assertEquals(List.of("frame", "raw"), byId.get(a), "names sorted, the rebound one moved");
    assertEquals(List.of("alias"), byId.get(x));
    assertEquals(3, store.stats().nameCount());

    store.putName("frame", a); // rebinding to the same object is a no-op
    assertEquals(a, store.getName("frame"));
    assertEquals(3, store.stats().nameCount());

    store.dropName("alias");
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("alias"));
    assertCode(ErrorCode.NOT_FOUND, () -> store.dropName("alias"));
    store.list("", 100).objects().forEach(e -> byId.put(e.meta().id().value(), e.names()));
    assertEquals(List.of(), byId.get(x));
    assertTrue(store.exists(x), "dropping a name does not delete the object");
  }

  @Test
  void namesAreValidatedAndMustPointAtVisibleObjects() {
    long unsealed = store.createBlob(writer, 10).id();
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.putName("", sealedBlob(1)));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.putName(null, sealedBlob(1)));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.getName(""));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.dropName(""));
    assertCode(ErrorCode.NOT_FOUND, () -> store.putName("n", ObjectId.of(false, 1, 1).value()));
    assertCode(ErrorCode.NOT_FOUND, () -> store.putName("n", unsealed));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("n"));
    assertEquals(0, store.stats().nameCount());
  }

  @Test
  void namesAreDroppedWhenTheirObjectIsDeleted() {
    long a = sealedBlob(10);
    long b = sealedBlob(10);
    store.putName("a1", a);
    store.putName("a2", a);
    store.putName("b", b);
    store.delete(List.of(a), false, false);
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("a1"));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("a2"));
    assertEquals(b, store.getName("b"));
    assertEquals(1, store.stats().nameCount());
    // A name freed by a delete can be bound anew.
    store.putName("a1", b);
    assertEquals(b, store.getName("a1"));
    // And a name moved away before the delete must survive it.
    long c = sealedBlob(10);
    store.putName("moving", c);
    store.putName("moving", b);
    store.delete(List.of(c), false, false);
    assertEquals(b, store.getName("moving"));
  }

  // ---------------------------------------------------------------- listing

  @Test
  void listFiltersByGlobInCreationOrder() {
    long blob = sealedBlob(8);
    long td = put("vineyard::Tensor<double>", Map.of("buffer", blob));
    long ti = put("vineyard::Tensor<int>", Map.of());
    long df = put("vineyard::DataFrame", Map.of("t", td));
    long dotted = put("a.b", Map.of());
    long unsealed = store.createBlob(writer, 8).id();

    List<Long> all = store.list("", 100).objects().stream().map(e -> e.meta().id().value()).toList();
    assertEquals(List.of(blob, td, ti, df, dotted), all, "oldest first; unsealed blobs are not listed");
    assertFalse(all.contains(unsealed));
    assertEquals(all, store.list(null, 100).objects().stream().map(e -> e.meta().id().value()).toList());

    assertEquals(Set.of(td, ti), ids(store.list("vineyard::Tensor*", 100).objects()));
    assertEquals(Set.of(ti), ids(store.list("vineyard::Tensor<???>", 100).objects()));
    assertEquals(Set.of(df), ids(store.list("*Frame", 100).objects()));
    assertEquals(Set.of(blob), ids(store.list(ObjectMeta.BLOB_TYPENAME, 100).objects()));
    assertEquals(Set.of(), ids(store.list("Tensor", 100).objects()), "a glob matches the whole typename");
    assertEquals(Set.of(), ids(store.list("aXb", 100).objects()));
    assertEquals(Set.of(dotted), ids(store.list("a.b", 100).objects()));
    assertEquals(Set.of(dotted), ids(store.list("a.*", 100).objects()));
    assertTrue(ids(store.list("a?b", 100).objects()).contains(dotted));
    assertEquals(Set.of(), ids(store.list("[ab].b", 100).objects()), "regex syntax is literal in a glob");
    assertEquals(5, store.list("*", 100).objects().size());

    ObjectInfo dfEntry = store.list("*Frame", 100).objects().getFirst();
    assertEquals(td, dfEntry.meta().member("t").id().value(), "listing shows members by id");
    assertEquals("", dfEntry.meta().member("t").typename(), "listing entries are shallow");
  }

  @Test
  void listRespectsTheLimitAndReportsTruncation() {
    long[] ids = new long[8];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = put(i % 2 == 0 ? "Even" : "Odd", Map.of());
    }
    Listing two = store.list("", 2);
    assertEquals(List.of(ids[0], ids[1]), two.objects().stream().map(e -> e.meta().id().value()).toList());
    assertTrue(two.truncated());

    Listing evens = store.list("Even", 4);
    assertEquals(4, evens.objects().size());
    assertFalse(evens.truncated(), "exactly the limit, nothing left out");
    Listing evens3 = store.list("Even", 3);
    assertEquals(3, evens3.objects().size());
    assertTrue(evens3.truncated());

    Listing all = store.list("", 8);
    assertEquals(8, all.objects().size());
    assertFalse(all.truncated());

    Listing byDefault = store.list("", 0);
    assertEquals(5, byDefault.objects().size(), "limit 0 means the store's default (5 here)");
    assertTrue(byDefault.truncated());
    assertEquals(5, store.list("", -1).objects().size());

    store.delete(List.of(ids[0], ids[2]), false, false);
    assertEquals(List.of(ids[4], ids[6]), store.list("Even", 10).objects().stream().map(e -> e.meta().id().value()).toList());
  }

  // ---------------------------------------------------------------- stats and memory

  @Test
  void outOfMemoryMentionsRequestedAndFreeSizes() {
    long ki = 1024;
    long[] blocks = new long[4];
    for (int i = 0; i < 4; i++) {
      blocks[i] = sealedBlob(256 * ki);
    }
    store.delete(List.of(blocks[0], blocks[2]), false, false);
    assertEquals(512 * ki, CAPACITY - used());
    long request = 300 * ki;
    VineyardException e = assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.createBlob(writer, request));
    String msg = e.getMessage();
    assertTrue(msg.contains(Long.toString(request)), msg);
    assertTrue(msg.contains(MemorySize.format(request)), msg);
    assertTrue(msg.contains(MemorySize.format(512 * ki) + " free"), msg);
    assertTrue(msg.contains(MemorySize.format(CAPACITY)), msg);
    assertTrue(msg.contains("largest free block " + MemorySize.format(256 * ki)), msg);
    assertEquals(0, store.stats().unsealedBlobCount(), "a failed create leaves nothing behind");
    assertEquals(512 * ki, used());
    // What fits still works.
    assertEquals(256 * ki, store.createBlob(writer, 256 * ki).size());
  }

  @Test
  void statsCountWhatTheStoreHolds() {
    long a = sealedBlob(100);
    long b = sealedBlob(200);
    store.createBlob(writer, 300);
    long x = put("X", Map.of("a", a));
    store.putName("x", x);
    store.getBlobs(reader, List.of(b));
    StoreStats st = store.stats();
    assertEquals(INSTANCE, st.instanceId());
    assertEquals(CAPACITY, st.capacityBytes());
    assertEquals(BlobAllocator.footprint(100) + BlobAllocator.footprint(200) + BlobAllocator.footprint(300), st.usedBytes());
    assertEquals(3, st.objectCount(), "two sealed blobs and one object");
    assertEquals(3, st.blobCount(), "sealed and unsealed blobs");
    assertEquals(1, st.unsealedBlobCount());
    assertEquals(1, st.pinnedBlobCount());
    assertEquals(2, st.clientCount());
    assertEquals(1, st.nameCount());
    assertEquals(CAPACITY - st.usedBytes(), st.largestFreeBytes());
    assertTrue(st.heapMaxBytes() > 0);
  }

  // ---------------------------------------------------------------- spilling

  /**
   * A spill area kept in a map, recording what the store asks of it. Setting {@link #full} makes
   * every write fail as a full disk does; {@link #unreadable} makes reads fail.
   */
  private static final class MapSpiller implements BlobSpiller {
    final Map<Long, byte[]> files = new HashMap<>();
    final List<Long> written = new ArrayList<>();
    final List<Long> deleted = new ArrayList<>();
    int reads;
    int failedWrites;
    boolean full;
    boolean unreadable;

    @Override
    public void write(long id, MemorySegment bytes) throws IOException {
      if (full) {
        failedWrites++;
        throw new IOException("No space left on device");
      }
      assertFalse(files.containsKey(id), "spilled twice without a reload: " + new ObjectId(id));
      files.put(id, bytes.toArray(ValueLayout.JAVA_BYTE));
      written.add(id);
    }

    @Override
    public void read(long id, MemorySegment target) throws IOException {
      if (unreadable) {
        throw new IOException("Input/output error");
      }
      byte[] b = files.get(id);
      if (b == null) {
        throw new IOException("no spill file for " + new ObjectId(id));
      }
      assertEquals(b.length, target.byteSize(), "reload target size");
      MemorySegment.copy(b, 0, target, ValueLayout.JAVA_BYTE, 0, b.length);
      reads++;
    }

    @Override
    public void delete(long id) {
      files.remove(id);
      deleted.add(id);
    }

    int swaps;

    /** As the real one does: in the spilled blob's room; a full disk refuses only what the window has more. */
    @Override
    public void swapRun(long spilledId, long spilledSize, MemorySegment window, List<Piece> pieces) throws IOException {
      byte[] in = files.get(spilledId);
      if (in == null) {
        throw new IOException("no spill file for " + new ObjectId(spilledId));
      }
      assertEquals(spilledSize, in.length);
      if (full && window.byteSize() > spilledSize) {
        failedWrites++;
        throw new IOException("No space left on device");
      }
      byte[] out = window.toArray(ValueLayout.JAVA_BYTE);
      MemorySegment.copy(in, 0, window, ValueLayout.JAVA_BYTE, 0, in.length);
      files.remove(spilledId);
      for (Piece p : pieces) {
        files.put(p.id(), java.util.Arrays.copyOfRange(out, (int) p.offset(), (int) (p.offset() + p.size())));
        written.add(p.id());
      }
      reads++;
      swaps++;
    }

    @Override
    public String describe() {
      return "the test spill area";
    }

    long bytes() {
      return files.values().stream().mapToLong(b -> b.length).sum();
    }
  }

  private static final long K100 = 100 << 10; // a multiple of the alignment: footprint == size
  private static final double UPPER = 0.8;
  private static final double LOWER = 0.5;

  private Arena arena;
  private MemorySegment memory;
  private MapSpiller spiller;
  /** What each live blob of the spilling store must hold. */
  private final Map<Long, byte[]> expected = new LinkedHashMap<>();

  @AfterEach
  void closeArena() {
    if (arena != null) {
      arena.close();
    }
  }

  /** Replaces the store (and its sessions) with one that spills to a {@link MapSpiller}. */
  private void useSpillingStore(double upper, double lower) {
    arena = Arena.ofConfined();
    memory = arena.allocate(CAPACITY, BlobAllocator.ALIGNMENT);
    spiller = new MapSpiller();
    store = new ObjectStore(INSTANCE, newArena(CAPACITY), 100, new ObjectStore.Tiering(spiller, upper, lower));
    writer = store.openSession("writer");
    reader = store.openSession("reader");
  }

  private static byte[] content(long size, long seed) {
    byte[] b = new byte[(int) size];
    new Random(seed).nextBytes(b);
    return b;
  }

  private byte[] bytesAt(ObjectStore.Location loc) {
    return store.arena().bytes(loc.range()).toArray(ValueLayout.JAVA_BYTE);
  }

  /** Creates a blob, writes random bytes into the arena where the store put it, and seals it. */
  private ObjectStore.Location write(long size, long seed) {
    ObjectStore.Location loc = store.createBlob(writer, size);
    byte[] data = content(size, seed);
    MemorySegment.copy(data, 0, store.arena().bytes(loc.range()), ValueLayout.JAVA_BYTE, 0, data.length);
    store.seal(writer, loc.id(), false);
    expected.put(loc.id(), data);
    return loc;
  }

  private long put(long size, long seed) {
    return write(size, seed).id();
  }

  /** Gets the blob (reloading it if need be), checks every byte, and releases it. */
  private void assertIntact(long id) {
    ObjectStore.Location loc = store.getBlobs(reader, List.of(id)).getFirst();
    try {
      assertEquals(expected.get(id).length, loc.size());
      assertArrayEquals(expected.get(id), bytesAt(loc), "bytes of " + new ObjectId(id));
    } finally {
      store.release(reader, List.of(id));
    }
  }

  private void assertEveryBlobIntact() {
    for (long id : List.copyOf(expected.keySet())) {
      assertIntact(id);
    }
  }

  private boolean spilled(long id) {
    return spiller.files.containsKey(id);
  }

  /** The store's counters agree with what the spiller holds, and spilled bytes are the blobs' bytes. */
  private void assertSpillAccounting() {
    StoreStats st = store.stats();
    assertEquals(spiller.files.size(), st.spilledBlobCount(), "spilled blob count");
    assertEquals(spiller.bytes(), st.spilledBytes(), "spilled bytes");
    assertEquals(spiller.written.size(), st.spillWrites(), "spill writes");
    assertEquals(spiller.reads, st.reloads(), "reloads");
    assertTrue(st.usedBytes() <= CAPACITY, "resident bytes within --size");
    // stats keeps its counts without scanning: they must agree with the blobs themselves.
    assertEquals(store.pinsSnapshot().values().stream().filter(p -> p > 0).count(), st.pinnedBlobCount(), "pinned blobs");
    spiller.files.forEach((id, bytes) ->
        assertArrayEquals(expected.get(id), bytes, "spilled bytes of " + new ObjectId(id)));
  }

  @Test
  void tieringRejectsBadMarks() {
    BlobSpiller s = new MapSpiller();
    // {upper, lower}
    double[][] bad = {{0.5, 0.9}, {0.5, 0.5}, {0.8, 0}, {0.8, -0.1}, {1.5, 0.5}, {0, 0}, {Double.NaN, 0.5}, {0.8, Double.NaN}};
    for (double[] marks : bad) {
      VineyardException e = assertCode(ErrorCode.INVALID_ARGUMENT, () -> new ObjectStore.Tiering(s, marks[0], marks[1]));
      assertTrue(e.getMessage().contains("0 < lower < upper <= 1"), e.getMessage());
    }
    assertEquals(1.0, new ObjectStore.Tiering(s, 1.0, 0.1).upper());
    assertEquals(0.5, new ObjectStore.Tiering(s, UPPER, LOWER).lower());
  }

  @Test
  void nothingIsSpilledBelowTheUpperMarkAndCrossingItSpillsDownToTheLowerMark() {
    useSpillingStore(UPPER, LOWER);
    long unit = 64 << 10;
    // 12 x 64 KiB = 768 KiB: under the upper mark (819.2 KiB).
    for (int i = 0; i < 12; i++) {
      put(unit, i);
    }
    assertEquals(12 * unit, used());
    assertEquals(0, store.stats().spillWrites(), "no spilling below the upper mark");
    // The 13th crosses it (832 KiB): the five oldest go, down to exactly the lower mark (512 KiB).
    long thirteenth = put(unit, 12);
    assertEquals((long) (LOWER * CAPACITY), used());
    assertEquals(List.copyOf(expected.keySet()).subList(0, 5), spiller.written);
    assertFalse(spilled(thirteenth), "the blob being created is not spilled to make room for itself");
    assertSpillAccounting();
    assertEquals(5 * unit, store.stats().spilledBytes());
    assertEquals(5, store.stats().spilledBlobCount());
    assertEquals(13, store.stats().blobCount(), "spilled blobs are still blobs of the store");
    assertEquals(13, store.stats().objectCount());
    for (long id : expected.keySet()) {
      assertTrue(store.exists(id));
      assertEquals(unit, store.getMeta(id).nbytes(), "metadata of spilled blobs stays available");
    }
  }

  @Test
  void aCreateThatDoesNotFitSpillsTheOldestDownToTheLowerMark() {
    useSpillingStore(1.0, LOWER); // never crossed: only a create that does not fit spills
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ids.add(put(K100, i));
    }
    assertEquals(10 * K100, used());
    assertEquals(0, spiller.written.size());
    long next = put(K100, 10);
    // 1000 KiB down to <= 512 KiB: five blobs, oldest first, then the new one is placed.
    assertEquals(ids.subList(0, 5), spiller.written);
    assertEquals(6 * K100, used());
    assertFalse(spilled(next));
    assertSpillAccounting();
    assertEveryBlobIntact();
    assertSpillAccounting();
  }

  @Test
  void theBlobReleasedLongestAgoIsSpilledFirstAndPinnedOnesAreSkipped() {
    useSpillingStore(UPPER, LOWER);
    long[] b = new long[8];
    for (int i = 0; i < 8; i++) {
      b[i] = put(K100, i);
    }
    assertEquals(0, spiller.written.size());
    assertIntact(b[3]); // get and release: b3 becomes the most recently used
    store.getBlobs(reader, List.of(b[0])); // b0 is held: not evictable at all
    // 900 KiB crosses the upper mark; down to <= 512 KiB means four victims.
    long ninth = put(K100, 8);
    assertEquals(List.of(b[1], b[2], b[4], b[5]), spiller.written);
    assertEquals(5 * K100, used());
    assertSpillAccounting();

    // b0 released now: the most recently used of all. Order: b6, b7, b3, ninth, b0.
    store.release(reader, List.of(b[0]));
    // 400 KiB fits in no hole (200, 200 and 124 KiB): b6 and b7, next in line, make one.
    long big = put(4 * K100, 9);
    assertEquals(List.of(b[1], b[2], b[4], b[5], b[6], b[7]), spiller.written);
    assertEquals(7 * K100, used());
    // 200 KiB fits, but crosses the upper mark (900 KiB): down to 200 KiB, in LRU order.
    put(2 * K100, 10);
    assertEquals(List.of(b[1], b[2], b[4], b[5], b[6], b[7], b[3], ninth, b[0], big), spiller.written);
    assertEquals(2 * K100, used());
    assertSpillAccounting();
    assertEveryBlobIntact();
    assertSpillAccounting();
  }

  @Test
  void aGetReloadsTheExactBytesAndTheCountersFollow() {
    useSpillingStore(UPPER, LOWER);
    long[] b = new long[9];
    for (int i = 0; i < 9; i++) {
      b[i] = put(K100, i);
    }
    assertEquals(List.of(b[0], b[1], b[2], b[3]), spiller.written);
    StoreStats st = store.stats();
    assertEquals(4, st.spilledBlobCount());
    assertEquals(4 * K100, st.spilledBytes());
    assertEquals(4, st.spillWrites());
    assertEquals(0, st.reloads());
    assertEquals(5 * K100, st.usedBytes());

    ObjectStore.Location loc = store.getBlobs(reader, List.of(b[0])).getFirst();
    assertArrayEquals(expected.get(b[0]), bytesAt(loc));
    assertEquals(1, pins(b[0]), "a reloaded blob is pinned like any other");
    assertTrue(spiller.deleted.contains(b[0]), "the spill file goes once the blob is back");
    assertFalse(spilled(b[0]));
    st = store.stats();
    assertEquals(3, st.spilledBlobCount());
    assertEquals(3 * K100, st.spilledBytes());
    assertEquals(4, st.spillWrites(), "a reload is not a spill");
    assertEquals(1, st.reloads());
    assertEquals(6 * K100, st.usedBytes(), "under the upper mark: the reload spilled nothing");
    store.release(reader, List.of(b[0]));

    // Three at once: the third crosses the upper mark and spills others, never the ones being got.
    List<ObjectStore.Location> locs = store.getBlobs(reader, List.of(b[1], b[2], b[3]));
    for (ObjectStore.Location l : locs) {
      assertArrayEquals(expected.get(l.id()), bytesAt(l));
    }
    assertEquals(List.of(b[4], b[5], b[6], b[7]), spiller.written.subList(4, 8));
    st = store.stats();
    assertEquals(4, st.reloads());
    assertEquals(8, st.spillWrites());
    assertEquals(4, st.spilledBlobCount());
    assertSpillAccounting();
    store.release(reader, List.of(b[1], b[2], b[3]));

    // Round and round: each blob spilled and reloaded several times keeps its bytes.
    for (int round = 0; round < 3; round++) {
      assertEveryBlobIntact();
    }
    assertTrue(store.stats().reloads() > 9);
    assertSpillAccounting();
    assertEquals(0, store.stats().pinnedBlobCount());
  }

  @Test
  void aFailingSpillFailsTheCreateThatNeededTheSpaceAndKeepsTheVictimResident() {
    useSpillingStore(UPPER, LOWER);
    List<ObjectStore.Location> locs = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      locs.add(write(K100, i));
    }
    spiller.full = true;
    long request = 3 * K100;
    VineyardException e = assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.createBlob(writer, request));
    String msg = e.getMessage();
    assertTrue(msg.contains("No space left on device"), msg);
    assertTrue(msg.contains("the test spill area"), msg);
    assertTrue(msg.contains(Long.toString(request)), msg);
    assertTrue(msg.contains(MemorySize.format(CAPACITY - 8 * K100) + " free"), msg);
    assertTrue(spiller.failedWrites > 0);
    StoreStats st = store.stats();
    assertEquals(0, st.spilledBlobCount());
    assertEquals(0, st.spillWrites());
    assertEquals(0, st.unsealedBlobCount(), "the failed create leaves nothing behind");
    assertEquals(8 * K100, st.usedBytes());
    // Every blob, the would-be victim first, is still where it was, with its bytes.
    for (ObjectStore.Location loc : locs) {
      assertArrayEquals(expected.get(loc.id()), bytesAt(loc));
      assertEquals(loc, store.getBlobs(reader, List.of(loc.id())).getFirst(), "not moved, not reloaded");
      store.release(reader, List.of(loc.id()));
    }
    assertEquals(0, store.stats().reloads());

    // A create that fits but crosses the upper mark succeeds; the failed spill only leaves memory high.
    ObjectStore.Location ninth = write(K100, 8);
    assertEquals(9 * K100, used());
    assertEquals(0, store.stats().spilledBlobCount());
    assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.createBlob(writer, 2 * K100));

    // Space on the disk again: the same create spills, least recently used first, and succeeds.
    spiller.full = false;
    write(2 * K100, 9);
    assertEquals(locs.subList(0, 4).stream().map(ObjectStore.Location::id).toList(), spiller.written,
        "the failed victim is still first in line");
    assertEquals(7 * K100, used());
    assertFalse(spilled(ninth.id()));
    assertSpillAccounting();
    assertEveryBlobIntact();
    assertSpillAccounting();
  }

  /** Memory and the spill directory both full (issue 19, item 9): a read exchanges the blob with an unpinned one. */
  @Test
  void aReloadWithMemoryAndDiskFullExchangesTheBlobWithAnUnpinnedOne() {
    useSpillingStore(UPPER, LOWER);
    long[] b = new long[14];
    for (int i = 0; i < 12; i++) {
      b[i] = put(K100, i);
    }
    assertEquals(List.of(b[0], b[1], b[2], b[3]), spiller.written);
    assertEquals(8 * K100, used());
    spiller.full = true;
    b[12] = put(K100, 12); // crosses the upper mark: the failed spill is only logged
    b[13] = put(K100, 13); // 1000 KiB resident, 24 KiB free
    assertEquals(10 * K100, used());
    List<ObjectStore.Location> got = store.getBlobs(reader, List.of(b[4], b[0]));
    assertTrue(spiller.failedWrites > 0, "spilling was tried first, and failed");
    assertEquals(1, spiller.swaps);
    assertArrayEquals(expected.get(b[0]), bytesAt(got.get(1)), "the spilled blob, loaded back");
    assertArrayEquals(expected.get(b[4]), bytesAt(got.get(0)));
    assertFalse(spilled(b[0]));
    assertTrue(spilled(b[5]), "the least recently used unpinned blob took its place on disk");
    assertEquals(2, store.stats().pinnedBlobCount());
    assertEquals(10 * K100, used(), "as much memory and disk as before");
    assertSpillAccounting();
    store.release(reader, List.of(b[4], b[0]));
    // Every blob can be read with both still full, one exchange at a time.
    assertEveryBlobIntact();
    assertSpillAccounting();
    spiller.full = false;
    assertEveryBlobIntact();
    assertSpillAccounting();
  }

  @Test
  void aReloadWithMemoryAndDiskFullAndEveryResidentBlobHeldFailsSayingSo() {
    useSpillingStore(UPPER, LOWER);
    long[] b = new long[12];
    for (int i = 0; i < 12; i++) {
      b[i] = put(K100, i);
    }
    spiller.full = true;
    List<Long> resident = new ArrayList<>();
    for (long id : b) {
      if (!spilled(id)) {
        resident.add(id);
      }
    }
    resident.add(put(K100, 12)); // memory crosses the upper mark: the spill fails, the create does not
    resident.add(put(K100, 13));
    store.getBlobs(reader, resident); // every resident blob held
    long held = store.stats().pinnedBlobCount();
    VineyardException e = assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.getBlobs(reader, List.of(b[0])));
    assertTrue(e.getMessage().contains("are pinned (held by clients)"), e.getMessage());
    assertEquals(held, store.stats().pinnedBlobCount(), "pins nothing");
    assertTrue(spilled(b[0]), "still spilled, still there");
    store.release(reader, resident);
    spiller.full = false;
    assertEveryBlobIntact();
    assertSpillAccounting();
  }

  @Test
  void aFailedReloadKeepsTheBlobSpilledAndPinsNothing() {
    useSpillingStore(UPPER, LOWER);
    long[] b = new long[9];
    for (int i = 0; i < 9; i++) {
      b[i] = put(K100, i);
    }
    assertTrue(spilled(b[0]));
    long usedBefore = used();
    spiller.unreadable = true;
    VineyardException e = assertCode(ErrorCode.IO_ERROR, () -> store.getBlobs(reader, List.of(b[8], b[0])));
    assertTrue(e.getMessage().contains(new ObjectId(b[0]).toString()), e.getMessage());
    assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
    assertTrue(reader.pins.isEmpty(), "all or nothing: the resident blob got first is released again");
    assertEquals(0, store.stats().pinnedBlobCount());
    assertEquals(usedBefore, used(), "the memory taken for the reload is given back");
    assertTrue(spilled(b[0]));
    assertEquals(0, store.stats().reloads());
    spiller.unreadable = false;
    assertIntact(b[0]);
    assertSpillAccounting();
  }

  @Test
  void deletingASpilledBlobDropsItsSpillFileAndFreesNoMemory() {
    useSpillingStore(UPPER, LOWER);
    long[] b = new long[9];
    for (int i = 0; i < 9; i++) {
      b[i] = put(K100, i);
    }
    assertTrue(spilled(b[0]) && spilled(b[1]));
    long usedBefore = used();
    ObjectStore.DeleteResult r = store.delete(List.of(b[0]), false, false);
    assertEquals(List.of(b[0]), r.deleted());
    assertTrue(r.deferred().isEmpty());
    expected.remove(b[0]);
    assertEquals(List.of(b[0]), spiller.deleted);
    assertFalse(spilled(b[0]));
    assertEquals(usedBefore, used(), "a spilled blob holds no memory to free");
    assertEquals(3, store.stats().spilledBlobCount());
    assertEquals(3 * K100, store.stats().spilledBytes());
    assertFalse(store.exists(b[0]));
    assertCode(ErrorCode.NOT_FOUND, () -> store.getBlobs(reader, List.of(b[0])));
    assertSpillAccounting();

    // Deep delete through an object whose member is spilled removes the file too.
    long obj = put("T", Map.of("data", b[1]));
    assertEquals(Set.of(obj, b[1]), new HashSet<>(store.delete(List.of(obj), false, true).deleted()));
    expected.remove(b[1]);
    assertFalse(spilled(b[1]));
    assertEquals(usedBefore, used());
    assertSpillAccounting();

    store.delete(List.copyOf(expected.keySet()), false, false);
    expected.clear();
    assertEquals(0, used());
    assertTrue(spiller.files.isEmpty(), "no spill file outlives its blob");
    StoreStats st = store.stats();
    assertEquals(0, st.spilledBytes());
    assertEquals(0, st.spilledBlobCount());
    assertEquals(CAPACITY, st.largestFreeBytes());
  }

  @Test
  void getBlobsOfSpilledBlobsIsAllOrNothingWhenTheyCannotAllBeResident() {
    useSpillingStore(UPPER, LOWER);
    long big = 4 * K100;
    long a = put(big, 1);
    long b = put(big, 2);
    long c = put(big, 3); // does not fit: a goes
    long d = put(big, 4); // b goes
    assertEquals(List.of(a, b), spiller.written);
    store.getBlobs(reader, List.of(d)); // d pinned by another client
    Session other = store.openSession("other");

    // a can come back (c is spilled for it), but then a and d are pinned and b has no room.
    VineyardException e = assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.getBlobs(other, List.of(a, b)));
    assertTrue(e.getMessage().contains("pinned"), e.getMessage());
    assertTrue(other.pins.isEmpty(), "no pin left behind by the failed get");
    assertEquals(0, pins(a));
    assertEquals(0, pins(b));
    assertEquals(1, store.stats().pinnedBlobCount(), "only the reader's pin on d");
    assertTrue(spilled(b));
    assertTrue(used() <= CAPACITY);
    assertSpillAccounting();

    // Once d is released the same get fits, and reloads both.
    store.release(reader, List.of(d));
    List<ObjectStore.Location> locs = store.getBlobs(other, List.of(a, b));
    assertEquals(2, locs.size());
    for (ObjectStore.Location l : locs) {
      assertArrayEquals(expected.get(l.id()), bytesAt(l));
      assertEquals(1, pins(l.id()));
    }
    assertFalse(spilled(a) || spilled(b));
    assertTrue(spilled(c) && spilled(d));
    assertSpillAccounting();
    store.closeSession(other);
    assertEveryBlobIntact();
  }

  @Test
  void pinnedUnsealedAndEmptyBlobsAreNeverSpilled() {
    useSpillingStore(UPPER, LOWER);
    long pinned = put(2 * K100, 1);
    store.getBlobs(reader, List.of(pinned));
    ObjectStore.Location keptLoc = store.createBlob(writer, 2 * K100);
    byte[] keptBytes = content(2 * K100, 2);
    MemorySegment.copy(keptBytes, 0, store.arena().bytes(keptLoc.range()), ValueLayout.JAVA_BYTE, 0, keptBytes.length);
    store.seal(writer, keptLoc.id(), true); // sealed and kept pinned by its creator
    expected.put(keptLoc.id(), keptBytes);
    ObjectStore.Location unsealed = store.createBlob(writer, 2 * K100);
    byte[] unsealedBytes = content(2 * K100, 3);
    MemorySegment.copy(unsealedBytes, 0, store.arena().bytes(unsealed.range()), ValueLayout.JAVA_BYTE, 0, unsealedBytes.length);
    long empty = put(0, 4);

    for (int i = 0; i < 30; i++) {
      put(K100, 100 + i);
    }
    assertTrue(spiller.written.size() > 20, "pressure made the store spill: " + spiller.written.size());
    for (long id : List.of(pinned, keptLoc.id(), unsealed.id(), empty)) {
      assertFalse(spiller.written.contains(id), "never spilled: " + new ObjectId(id));
    }
    // Only pinned and unsealed blobs resident, and no room left for 500 KiB: a clear failure.
    long request = 5 * K100;
    VineyardException e = assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.createBlob(writer, request));
    assertTrue(e.getMessage().contains("nothing can be spilled"), e.getMessage());
    assertTrue(e.getMessage().contains("are pinned (held by clients)") && e.getMessage().contains("are being written (unsealed)"),
        "says what holds the memory: " + e.getMessage());
    assertEquals(6 * K100, used());

    store.seal(writer, unsealed.id(), false);
    expected.put(unsealed.id(), unsealedBytes);
    assertArrayEquals(unsealedBytes, bytesAt(unsealed), "written before the pressure, intact");
    // Sealed and unpinned now, so it can make room.
    write(request, 5);
    assertTrue(spilled(unsealed.id()));
    assertFalse(spilled(pinned) || spilled(keptLoc.id()));
    store.release(reader, List.of(pinned));
    store.release(writer, List.of(keptLoc.id()));
    assertEveryBlobIntact();
    assertSpillAccounting();
  }

  @Test
  void aRequestLargerThanMemoryFailsWithoutSpillingAnything() {
    useSpillingStore(UPPER, LOWER);
    for (int i = 0; i < 7; i++) {
      put(K100, i);
    }
    VineyardException e = assertCode(ErrorCode.OUT_OF_MEMORY, () -> store.createBlob(writer, CAPACITY + 1));
    assertTrue(e.getMessage().contains(Long.toString(CAPACITY + 1)), e.getMessage());
    assertTrue(e.getMessage().contains("exceeds the store's size"), e.getMessage());
    assertFalse(e.getMessage().contains("pinned"), "nothing is pinned: " + e.getMessage());
    assertEquals(0, store.stats().spillWrites(), "no amount of spilling can make room for more than --size");
    assertEquals(7 * K100, used());
  }

  @Test
  void aRandomWorkloadKeepsEveryByteAndTheMarks() {
    useSpillingStore(UPPER, LOWER);
    Random r = new Random(20250101L);
    List<Long> live = new ArrayList<>();
    Map<Long, Integer> held = new HashMap<>(); // reader's pins, including on blobs deleted since
    int creates = 0;
    for (int op = 0; op < 10_000; op++) {
      int k = r.nextInt(100);
      if (k < 35 || live.isEmpty()) {
        long size =
            switch (r.nextInt(10)) {
              case 0 -> 0;
              case 1, 2, 3 -> 1 + r.nextInt(1024);
              default -> 1024 + r.nextInt(63 << 10);
            };
        long id = put(size, op);
        live.add(id);
        creates++;
        if (used() > UPPER * CAPACITY) {
          // Above the upper mark only when nothing else could be spilled.
          for (long other : live) {
            if (other != id && !spilled(other) && expected.get(other).length > 0) {
              assertTrue(held.containsKey(other), "op " + op + ": resident, unpinned and above the upper mark");
            }
          }
        }
      } else if (k < 70) {
        long id = live.get(r.nextInt(live.size()));
        if (held.size() < 4 && r.nextBoolean()) {
          ObjectStore.Location loc = store.getBlobs(reader, List.of(id)).getFirst();
          assertArrayEquals(expected.get(id), bytesAt(loc), "op " + op);
          held.merge(id, 1, Integer::sum);
        } else {
          assertIntact(id);
        }
      } else if (k < 80 && !held.isEmpty()) {
        long id = held.keySet().iterator().next();
        held.computeIfPresent(id, (key, n) -> n == 1 ? null : n - 1);
        store.release(reader, List.of(id));
      } else {
        long id = live.remove(r.nextInt(live.size()));
        store.delete(List.of(id), false, false);
        expected.remove(id); // if held, it stays resident until released
      }
      // Pinned blobs are never spilled.
      for (long id : held.keySet()) {
        assertFalse(spilled(id), "op " + op + ": a pinned blob was spilled");
      }
      if (op % 50 == 0) {
        StoreStats st = store.stats();
        assertEquals(spiller.files.size(), st.spilledBlobCount(), "op " + op);
        assertEquals(spiller.bytes(), st.spilledBytes(), "op " + op);
        assertEquals(spiller.written.size(), st.spillWrites(), "op " + op);
        assertEquals(spiller.reads, st.reloads(), "op " + op);
        assertTrue(st.usedBytes() <= CAPACITY);
      }
    }
    assertTrue(creates > 3000);
    assertTrue(spiller.written.size() > 1000, "the workload must spill a lot, did " + spiller.written.size());
    assertTrue(spiller.reads > 1000, "and reload a lot, did " + spiller.reads);
    held.forEach((id, n) -> {
      for (int i = 0; i < n; i++) {
        store.release(reader, List.of(id));
      }
    });
    for (long id : live) {
      assertIntact(id);
    }
    store.delete(List.copyOf(live), false, false);
    assertEquals(0, used());
    assertTrue(spiller.files.isEmpty());
    assertEquals(0, store.stats().spilledBytes());
  }
}
