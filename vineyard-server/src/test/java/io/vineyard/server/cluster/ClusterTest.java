package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.ListEntry;
import io.vineyard.proto.ipc.ObjectMeta;
import io.vineyard.proto.ipc.Placement;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.Session;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cluster logic over a real store and the local metadata backend, in process. */
class ClusterTest {

  private ObjectStore store;
  private LocalMetadata backend;
  private Cluster cluster;
  private Session session;

  @BeforeEach
  void setUp() {
    backend = new LocalMetadata();
    cluster = new Cluster(backend, new InstanceInfo(0, "node-1", "/tmp/v.sock", "", 0, 0, java.time.Instant.EPOCH, ""));
    store = new ObjectStore(cluster.register(7), 1 << 20, 100);
    cluster.attach(store, null);
    session = store.openSession("test");
  }

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  private long blob(long size) {
    long id = store.createBlob(session, size).id();
    store.seal(session, id, false);
    return id;
  }

  private long object(String type, String member, long memberId) {
    return store.putMeta(ObjectMeta.newBuilder().setTypename(type)
        .putMembers(member, ObjectMeta.newBuilder().setId(memberId).build()).build());
  }

  @Test
  void persistPublishesTheTreeAndItsNames() {
    long b = blob(100);
    long column = object("t::Column", "data", b);
    long frame = object("t::Frame", "col", column);
    store.putName("the-frame", frame);
    store.putName("a-column", column);
    cluster.persist(frame);

    assertEquals(Protos.fromProto(store.getMeta(frame)), backend.lookup(new ObjectId(frame)).orElseThrow());
    assertEquals(Protos.fromProto(store.getMeta(column)), backend.lookup(new ObjectId(column)).orElseThrow(), "members are persisted too");
    assertTrue(backend.lookup(new ObjectId(b)).isEmpty(), "blobs are published inside their objects' trees only");
    assertEquals(new ObjectId(frame), backend.getName("the-frame").orElseThrow());
    assertEquals(new ObjectId(column), backend.getName("a-column").orElseThrow());
    assertEquals(7, cluster.selfInfo().id());
    List<ListEntry> listed = cluster.listGlobal("t::*", 0, 10).getEntriesList();
    assertEquals(2, listed.size());
    assertEquals(List.of("the-frame"),
        listed.stream().filter(e -> e.getMeta().getId() == frame).findFirst().orElseThrow().getNamesList());
    assertEquals(column, listed.stream().filter(e -> e.getMeta().getId() == frame).findFirst().orElseThrow()
        .getMeta().getMembersOrThrow("col").getId(), "listings name members by id");
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
  void globalObjectsNeedPersistedMembers() {
    long column = object("t::Column", "data", blob(64));
    ObjectMeta global = ObjectMeta.newBuilder().setTypename("t::Global").setGlobal(true)
        .putMembers("part-0", ObjectMeta.newBuilder().setId(column).build()).build();
    VineyardException e = assertThrows(VineyardException.class, () -> cluster.putGlobal(global));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertTrue(e.reason().contains("persist it first"), e.reason());

    cluster.persist(column);
    long g = cluster.putGlobal(global);
    ObjectMeta stored = cluster.getMeta(g);
    assertTrue(stored.getGlobal());
    assertEquals(64, stored.getNbytes(), "the sum of its members");
    assertEquals(store.getMeta(column), stored.getMembersOrThrow("part-0"), "members are expanded");
    assertTrue(cluster.isLocalGlobal(g));
    assertEquals(Protos.fromProto(stored), backend.lookup(new ObjectId(g)).orElseThrow(), "a global object is persisted at once");

    ObjectMeta unknown = ObjectMeta.newBuilder().setTypename("t::Global").setGlobal(true)
        .putMembers("part-0", ObjectMeta.newBuilder().setId(12345).build()).build();
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.putGlobal(unknown)).code());
  }

  @Test
  void locateWalksEveryMemberAndBlobInPathOrder() {
    long b1 = blob(8);
    long b2 = blob(16);
    long x = store.putMeta(ObjectMeta.newBuilder().setTypename("t::Pair")
        .putMembers("right", ObjectMeta.newBuilder().setId(b2).build())
        .putMembers("left", ObjectMeta.newBuilder().setId(b1).build()).build());
    List<Placement> where = cluster.locate(x);
    assertEquals(List.of("", "left", "right"), where.stream().map(Placement::getPath).toList());
    assertEquals(List.of(x, b1, b2), where.stream().map(Placement::getId).toList());
    assertTrue(where.stream().allMatch(p -> p.getInstanceId() == 7 && p.getHostname().equals("node-1")));
    assertEquals(16, where.get(2).getNbytes());
  }

  @Test
  void unknownObjectsAndNamesAreNotFound() {
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.getMeta(42)).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.persist(42)).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.getName("nope")).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cluster.dropClusterName("nope")).code());
  }
}
