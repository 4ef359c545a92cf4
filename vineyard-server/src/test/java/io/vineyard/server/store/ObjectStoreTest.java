package io.vineyard.server.store;

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
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.StatsResponse;
import io.vineyard.server.memory.BlobAllocator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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

  @BeforeEach
  void setUp() {
    store = new ObjectStore(INSTANCE, CAPACITY, 5);
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
    return store.stats().getUsedBytes();
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
    return store.putMeta(Protos.toProto(b.build()));
  }

  private int pins(long blob) {
    return store.pinsSnapshot().getOrDefault(blob, 0);
  }

  private Set<Long> ids(List<ObjectStore.Listed> entries) {
    Set<Long> out = new HashSet<>();
    entries.forEach(e -> out.add(e.meta().getId()));
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
    assertEquals(ObjectStore.REGION_ID, loc.region());
    assertEquals(0, loc.offset() % BlobAllocator.ALIGNMENT);
    assertEquals(1000, loc.size());
    assertEquals(start + BlobAllocator.footprint(1000), used());
    assertEquals(1, store.stats().getUnsealedBlobCount());
    assertFalse(store.exists(loc.id()), "an unsealed blob is not visible");

    store.seal(writer, loc.id(), false);
    assertTrue(store.exists(loc.id()));
    assertEquals(0, store.stats().getUnsealedBlobCount());
    assertEquals(0, pins(loc.id()), "sealing without keepPinned drops the creator's pin");

    List<ObjectStore.Location> got = store.getBlobs(reader, List.of(loc.id()));
    assertEquals(List.of(loc), got, "get returns where the writer wrote");
    assertEquals(1, pins(loc.id()));
    assertEquals(Map.of(loc.id(), 1), reader.pins);
    assertEquals(1, store.stats().getPinnedBlobCount());

    io.vineyard.proto.ipc.ObjectMeta meta = store.getMeta(loc.id());
    assertEquals(ObjectMeta.BLOB_TYPENAME, meta.getTypename());
    assertEquals(1000, meta.getNbytes());
    assertEquals(INSTANCE, meta.getInstanceId());
    assertEquals(loc.id(), meta.getId());

    store.release(reader, List.of(loc.id()));
    assertEquals(0, pins(loc.id()));
    assertTrue(reader.pins.isEmpty());
    assertEquals(0, store.stats().getPinnedBlobCount());
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
    assertEquals(1, store.stats().getUnsealedBlobCount());
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
    assertEquals(0, store.stats().getUnsealedBlobCount(), "the unsealed count must not go negative");
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
    assertEquals(0, store.stats().getPinnedBlobCount());
    assertEquals(2, store.getBlobs(reader, List.of(a, b)).size());
  }

  @Test
  void abortFreesTheBlob() {
    long start = used();
    long id = store.createBlob(writer, 5000).id();
    store.abort(writer, id);
    assertEquals(start, used());
    assertEquals(0, store.stats().getUnsealedBlobCount());
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
    assertFalse(ids(store.list("", 100).entries()).contains(id));
    assertEquals(0, store.stats().getBlobCount());
    assertEquals(0, store.stats().getObjectCount());
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
    assertEquals(3, store.stats().getClientCount());
    long u1 = store.createBlob(s, 100_000).id();
    long u2 = store.createBlob(s, 1).id();
    long u3 = store.createBlob(s, 0).id();
    long mine = store.createBlob(s, 500).id();
    store.seal(s, mine, true);
    store.getBlobs(s, List.of(kept, kept));
    assertEquals(3, store.stats().getUnsealedBlobCount());
    assertEquals(2, pins(kept));
    assertEquals(1, pins(mine));

    store.closeSession(s);
    assertEquals(2, store.stats().getClientCount());
    assertEquals(0, store.stats().getUnsealedBlobCount());
    assertEquals(0, store.stats().getPinnedBlobCount());
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
    assertEquals(2, store.stats().getClientCount());
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
    assertEquals(CAPACITY, store.stats().getLargestFreeBytes(), "freed ranges coalesce again");
    assertEquals(0, store.stats().getBlobCount());
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
    long objects = store.stats().getObjectCount();
    VineyardException e =
        assertCode(ErrorCode.NOT_FOUND, () -> put("T", Map.of("ok", good, "missing", unknown)));
    assertTrue(e.getMessage().contains("'missing'"), e.getMessage());
    e = assertCode(ErrorCode.NOT_SEALED, () -> put("T", Map.of("ok", good, "pending", unsealed)));
    assertTrue(e.getMessage().contains("'pending'"), e.getMessage());
    assertEquals(objects, store.stats().getObjectCount());
    // A failed put must not leave a back-reference that blocks deleting the good member.
    assertEquals(List.of(good), store.delete(List.of(good), false, false).deleted());

    long deleted = sealedBlob(10);
    store.delete(List.of(deleted), false, false);
    assertCode(ErrorCode.NOT_FOUND, () -> put("T", Map.of("gone", deleted)));
  }

  @Test
  void putMetaValidatesTheTypename() {
    io.vineyard.proto.ipc.ObjectMeta noType = io.vineyard.proto.ipc.ObjectMeta.newBuilder().build();
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.putMeta(noType));
    io.vineyard.proto.ipc.ObjectMeta blank = io.vineyard.proto.ipc.ObjectMeta.newBuilder().setTypename("  ").build();
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> store.putMeta(blank));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> put(ObjectMeta.BLOB_TYPENAME, Map.of()));
  }

  @Test
  void putMetaAssignsIdAndInstanceAndIgnoresClientSuppliedOnes() {
    io.vineyard.proto.ipc.ObjectMeta m =
        io.vineyard.proto.ipc.ObjectMeta.newBuilder().setTypename("T").setId(77).setInstanceId(99).build();
    long id = store.putMeta(m);
    assertNotEquals(77, id);
    ObjectId oid = new ObjectId(id);
    assertFalse(oid.isBlob());
    assertEquals(INSTANCE, oid.instanceId());
    io.vineyard.proto.ipc.ObjectMeta back = store.getMeta(id);
    assertEquals(id, back.getId());
    assertEquals(INSTANCE, back.getInstanceId());
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
            Protos.toProto(
                ObjectMeta.builder("Outer")
                    .field("rows", 7L)
                    .jsonField("schema", "{}")
                    .global(true)
                    .member("inner", new ObjectId(inner))
                    .member("extra", new ObjectId(b))
                    .build()));
    ObjectMeta m = Protos.fromProto(store.getMeta(outer));
    assertEquals(new ObjectId(outer), m.id());
    assertEquals("Outer", m.typename());
    assertEquals(7, m.getLong("rows"));
    assertEquals(new ObjectMeta.Json("{}"), m.fields().get("schema"));
    assertTrue(m.isGlobal());
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
    assertEquals(300, store.getMeta(x).getNbytes());
    long y = put("Y", Map.of("x", x, "b", b, "c", c));
    assertEquals(350, store.getMeta(y).getNbytes(), "b is under y twice (directly and via x) but counts once");
    long z = put("Z", Map.of("x", x, "y", y));
    assertEquals(350, store.getMeta(z).getNbytes());
    assertEquals(0, store.getMeta(put("Empty", Map.of())).getNbytes());
    long explicit =
        store.putMeta(Protos.toProto(ObjectMeta.builder("E").member("a", new ObjectId(a)).nbytes(12345).build()));
    assertEquals(12345, store.getMeta(explicit).getNbytes(), "an explicit nbytes is kept");
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
    long objects = store.stats().getObjectCount();

    VineyardException e = assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(other, a), false, false));
    assertTrue(e.getMessage().contains(new ObjectId(x).toString()), e.getMessage());
    assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(x), false, true));
    assertCode(ErrorCode.OBJECT_IN_USE, () -> store.delete(List.of(a, x), false, false)); // y still refers to x
    assertCode(ErrorCode.NOT_FOUND, () -> store.delete(List.of(other, ObjectId.of(false, 1, 1).value()), false, false));
    assertEquals(objects, store.stats().getObjectCount(), "nothing deleted");
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
    assertEquals(0, store.stats().getNameCount());
    assertTrue(store.exists(c), "force without deep leaves the referrers' other members");
    assertTrue(store.exists(unrelated));
    assertEquals(300, store.getMeta(unrelated).getNbytes());
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
    assertEquals(shared, Protos.fromProto(store.getMeta(q)).member("shared").id().value());
    assertEquals(BlobAllocator.footprint(2000), used());

    store.delete(List.of(q), false, true);
    assertFalse(store.exists(shared), "the last referrer went, deep took the member with it");
    assertEquals(0, used());
    assertEquals(0, store.stats().getObjectCount());
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
        ObjectStore s = new ObjectStore(INSTANCE, CAPACITY, 100);
        Session w = s.openSession("w");
        long[] blobs = new long[3];
        for (int i = 0; i < 3; i++) {
          blobs[i] = s.createBlob(w, 100 * (i + 1)).id();
          s.seal(w, blobs[i], false);
        }
        long a = blobs[0];
        long p1 = s.putMeta(Protos.toProto(ObjectMeta.builder("P").member("a", new ObjectId(a)).member("b", new ObjectId(blobs[1])).build()));
        long p2 = s.putMeta(Protos.toProto(ObjectMeta.builder("P").member("a", new ObjectId(a)).member("c", new ObjectId(blobs[2])).build()));
        if (pinned) {
          s.getBlobs(w, List.of(a));
        }
        long[] candidates = {a, p1, p2};
        List<Long> targets = order.stream().map(i -> candidates[i]).toList();

        ObjectStore.DeleteResult r = s.delete(targets, false, true);
        assertEquals(Set.of(a, blobs[1], blobs[2], p1, p2), new HashSet<>(r.deleted()), which);
        assertEquals(5, r.deleted().size(), which + ": each object is reported once");
        assertEquals(pinned ? List.of(a) : List.of(), r.deferred(), which);
        assertEquals(0, s.stats().getObjectCount(), which);
        assertEquals(pinned ? BlobAllocator.footprint(100) : 0, s.stats().getUsedBytes(), which);
        s.closeSession(w);
        assertEquals(0, s.stats().getUsedBytes(), which);
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
    assertEquals(3, store.stats().getNameCount());

    store.putName("frame", a); // rebinding moves the name
    assertEquals(a, store.getName("frame"));
    Map<Long, List<String>> byId = new java.util.HashMap<>();
    store.list("", 100).entries().forEach(e -> byId.put(e.meta().getId(), e.names()));
    assertEquals(List.of("frame", "raw"), byId.get(a), "names sorted, the rebound one moved");
    assertEquals(List.of("alias"), byId.get(x));
    assertEquals(3, store.stats().getNameCount());

    store.putName("frame", a); // rebinding to the same object is a no-op
    assertEquals(a, store.getName("frame"));
    assertEquals(3, store.stats().getNameCount());

    store.dropName("alias");
    assertCode(ErrorCode.NOT_FOUND, () -> store.getName("alias"));
    assertCode(ErrorCode.NOT_FOUND, () -> store.dropName("alias"));
    store.list("", 100).entries().forEach(e -> byId.put(e.meta().getId(), e.names()));
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
    assertEquals(0, store.stats().getNameCount());
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
    assertEquals(1, store.stats().getNameCount());
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

    List<Long> all = store.list("", 100).entries().stream().map(e -> e.meta().getId()).toList();
    assertEquals(List.of(blob, td, ti, df, dotted), all, "oldest first; unsealed blobs are not listed");
    assertFalse(all.contains(unsealed));
    assertEquals(all, store.list(null, 100).entries().stream().map(e -> e.meta().getId()).toList());

    assertEquals(Set.of(td, ti), ids(store.list("vineyard::Tensor*", 100).entries()));
    assertEquals(Set.of(ti), ids(store.list("vineyard::Tensor<???>", 100).entries()));
    assertEquals(Set.of(df), ids(store.list("*Frame", 100).entries()));
    assertEquals(Set.of(blob), ids(store.list(ObjectMeta.BLOB_TYPENAME, 100).entries()));
    assertEquals(Set.of(), ids(store.list("Tensor", 100).entries()), "a glob matches the whole typename");
    assertEquals(Set.of(), ids(store.list("aXb", 100).entries()));
    assertEquals(Set.of(dotted), ids(store.list("a.b", 100).entries()));
    assertEquals(Set.of(dotted), ids(store.list("a.*", 100).entries()));
    assertTrue(ids(store.list("a?b", 100).entries()).contains(dotted));
    assertEquals(Set.of(), ids(store.list("[ab].b", 100).entries()), "regex syntax is literal in a glob");
    assertEquals(5, store.list("*", 100).entries().size());

    ObjectStore.Listed dfEntry = store.list("*Frame", 100).entries().getFirst();
    assertEquals(td, dfEntry.meta().getMembersOrThrow("t").getId(), "listing shows members by id");
    assertEquals("", dfEntry.meta().getMembersOrThrow("t").getTypename(), "listing entries are shallow");
  }

  @Test
  void listRespectsTheLimitAndReportsTruncation() {
    long[] ids = new long[8];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = put(i % 2 == 0 ? "Even" : "Odd", Map.of());
    }
    ObjectStore.Listing two = store.list("", 2);
    assertEquals(List.of(ids[0], ids[1]), two.entries().stream().map(e -> e.meta().getId()).toList());
    assertTrue(two.truncated());

    ObjectStore.Listing evens = store.list("Even", 4);
    assertEquals(4, evens.entries().size());
    assertFalse(evens.truncated(), "exactly the limit, nothing left out");
    ObjectStore.Listing evens3 = store.list("Even", 3);
    assertEquals(3, evens3.entries().size());
    assertTrue(evens3.truncated());

    ObjectStore.Listing all = store.list("", 8);
    assertEquals(8, all.entries().size());
    assertFalse(all.truncated());

    ObjectStore.Listing byDefault = store.list("", 0);
    assertEquals(5, byDefault.entries().size(), "limit 0 means the store's default (5 here)");
    assertTrue(byDefault.truncated());
    assertEquals(5, store.list("", -1).entries().size());

    store.delete(List.of(ids[0], ids[2]), false, false);
    assertEquals(List.of(ids[4], ids[6]), store.list("Even", 10).entries().stream().map(e -> e.meta().getId()).toList());
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
    assertEquals(0, store.stats().getUnsealedBlobCount(), "a failed create leaves nothing behind");
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
    StatsResponse st = store.stats();
    assertEquals(INSTANCE, st.getInstanceId());
    assertEquals(CAPACITY, st.getCapacityBytes());
    assertEquals(BlobAllocator.footprint(100) + BlobAllocator.footprint(200) + BlobAllocator.footprint(300), st.getUsedBytes());
    assertEquals(3, st.getObjectCount(), "two sealed blobs and one object");
    assertEquals(3, st.getBlobCount(), "sealed and unsealed blobs");
    assertEquals(1, st.getUnsealedBlobCount());
    assertEquals(1, st.getPinnedBlobCount());
    assertEquals(2, st.getClientCount());
    assertEquals(1, st.getNameCount());
    assertEquals(CAPACITY - st.getUsedBytes(), st.getLargestFreeBytes());
    assertTrue(st.getHeapMaxBytes() > 0);
  }
}
