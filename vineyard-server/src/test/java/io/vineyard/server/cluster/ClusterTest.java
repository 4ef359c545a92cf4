package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.VineyardException;
import io.vineyard.client.ObjectInfo;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.Session;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The cluster logic over a real store and the local metadata backend, in process. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClusterTest {

  private MemoryArena arena;
  private ObjectStore store;
  private LocalMetadata backend;
  private Cluster cluster;
  private Session session;

  @BeforeEach
  void setUp() {
    backend = new LocalMetadata();
    arena = MemoryArena.create(Path.of("/dev/shm/vineyard-unit-tests"), 1 << 20, false);
    cluster = new Cluster(backend, new InstanceInfo(0, "node-1", "/tmp/v.sock", "", 0, 0, java.time.Instant.EPOCH, ""),
        "node-1:9600", arena, 7, id -> new ObjectStore(id, arena, 100));
    store = cluster.store();
    session = store.openSession("test");
  }

  @AfterEach
  void tearDown() {
    cluster.close();
    arena.close();
  }

  private long blob(long size) {
    long id = store.createBlob(session, size).id();
    store.seal(session, id, false);
    return id;
  }

  private long object(String type, String member, long memberId) {
    return store.putMeta(ObjectMeta.builder(type).member(member, new ObjectId(memberId)).build());
  }

  @Test
  void theStoreIsBuiltWithTheRegisteredInstanceId() {
    assertEquals(7, store.instanceId());
    assertEquals(7, cluster.selfInfo().id());
    assertEquals("node-1:9600", cluster.selfInfo().rpcEndpoint());
    assertEquals(arena.capacity(), cluster.selfInfo().capacityBytes());
  }

  @Test
  void persistPublishesTheTreeAndItsNames() {
    long b = blob(100);
    long column = object("t::Column", "data", b);
    long frame = object("t::Frame", "col", column);
    store.putName("the-frame", frame);
    store.putName("a-column", column);
    cluster.persist(frame);

    assertEquals(store.getMeta(frame), backend.lookup(new ObjectId(frame)).orElseThrow());
    assertEquals(store.getMeta(column), backend.lookup(new ObjectId(column)).orElseThrow(), "members are persisted too");
    assertEquals(store.getMeta(b), backend.lookup(new ObjectId(b)).orElseThrow(), "member blobs too: their names lead to them");
    assertEquals(new ObjectId(frame), backend.getName("the-frame").orElseThrow());
    assertEquals(new ObjectId(column), backend.getName("a-column").orElseThrow());
    List<ObjectInfo> listed = cluster.listGlobal("t::*", 10).objects();
    assertEquals(2, listed.size());
    ObjectInfo f = listed.stream().filter(e -> e.meta().id().value() == frame).findFirst().orElseThrow();
    assertEquals(List.of("the-frame"), f.names());
    assertEquals(column, f.meta().member("col").id().value(), "listings name members by id");
    assertTrue(f.meta().member("col").isReference());
  }

  @Test
  void deletingWithdrawsWhatWasPublished() {
    long column = object("t::Column", "data", blob(10));
    long frame = object("t::Frame", "col", column);
    store.putName("frame", frame);
    cluster.persist(frame);
    ObjectStore.DeleteResult r = store.delete(List.of(frame), false, true);
    assertTrue(cluster.afterDelete(r.deleted()));
    cluster.withdrawPending();
    assertTrue(backend.lookup(new ObjectId(frame)).isEmpty());
    assertTrue(backend.lookup(new ObjectId(column)).isEmpty(), "deep delete took the member, and its publication");
    assertTrue(backend.getName("frame").isEmpty());
    assertFalse(cluster.afterDelete(List.of(frame)), "nothing left to withdraw");
  }

  @Test
  void globalObjectsNeedPersistedMembersAndLiveInTheStore() {
    long column = object("t::Column", "data", blob(64));
    ObjectMeta global = ObjectMeta.builder("t::Global").global(true).member("part-0", new ObjectId(column)).build();
    VineyardException e = assertThrows(VineyardException.class, () -> cluster.putGlobal(global));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertTrue(e.reason().contains("persist it first"), e.reason());

    cluster.persist(column);
    long g = cluster.putGlobal(global);
    ObjectMeta stored = store.getMeta(g);
    assertTrue(stored.isGlobal());
    assertEquals(64, stored.nbytes(), "the sum of its members");
    assertEquals(store.getMeta(column), stored.member("part-0"), "members are expanded");
    assertTrue(store.exists(g) && store.isGlobal(g), "the global object is in the same object graph");
    assertEquals(stored, backend.lookup(new ObjectId(g)).orElseThrow(), "a global object is persisted at once");
    assertTrue(store.list("t::Global", 10).objects().stream().anyMatch(o -> o.meta().id().value() == g));

    ObjectStore.DeleteResult r = store.delete(List.of(g), false, false);
    assertEquals(List.of(g), r.deleted());
    assertTrue(store.exists(column), "deleting a global object leaves its members");
    assertTrue(cluster.afterDelete(r.deleted()));
    cluster.withdrawPending();
    assertTrue(backend.lookup(new ObjectId(g)).isEmpty());

    ObjectMeta unknown = ObjectMeta.builder("t::Global").global(true).member("part-0", new ObjectId(12345)).build();
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.putGlobal(unknown)).code());
  }

  @Test
  void locateWalksEveryMemberAndBlobInPathOrder() {
    long b1 = blob(8);
    long b2 = blob(16);
    long x = store.putMeta(ObjectMeta.builder("t::Pair").member("right", new ObjectId(b2)).member("left", new ObjectId(b1)).build());
    List<Placement> where = cluster.locate(x);
    assertEquals(List.of("", "left", "right"), where.stream().map(Placement::path).toList());
    assertEquals(List.of(x, b1, b2), where.stream().map(p -> p.id().value()).toList());
    assertTrue(where.stream().allMatch(p -> p.instanceId() == 7 && p.hostname().equals("node-1")));
    assertEquals(16, where.get(2).nbytes());
  }

  @Test
  void unknownObjectsAndNamesAreNotFound() {
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.getRemoteMeta(42)).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.persist(42)).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.getRemoteName("nope")).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.dropClusterName("nope")).code());
  }
}
