package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import io.vineyard.client.ObjectInfo;
import io.vineyard.client.RpcClient;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Two daemons and a real etcd: persisted objects seen across instances, gRPC, migration, locate. */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ClusterIT {

  @TempDir static Path work;
  static EtcdProcess etcd;
  static DaemonProcess a;
  static DaemonProcess b;
  static IpcClient ca;
  static IpcClient cb;
  static int unique;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdProcess.start(work);
    String[] flags = {"--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix", "/cluster-it", "--etcd-lease-ttl", "3"};
    a = DaemonProcess.start(Files.createDirectory(work.resolve("a")), "512Mi", flags);
    b = DaemonProcess.start(Files.createDirectory(work.resolve("b")), "512Mi", flags);
    ca = a.connect();
    cb = b.connect();
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {ca, cb, a, b, etcd}) {
      if (c != null) {
        c.close();
      }
    }
  }

  static byte[] random(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  /** A tensor-like object on {@code c}: one blob of {@code data} and a few fields. */
  static ObjectId putTensor(IpcClient c, byte[] data) {
    ObjectId blob = c.putBlob(data);
    return c.putMeta(
        ObjectMeta.builder("test::Tensor")
            .field("dtype", "uint8")
            .field("length", (long) data.length)
            .jsonField("shape", "[" + data.length + "]")
            .member("buffer", blob)
            .build());
  }

  static byte[] read(IpcClient c, ObjectId blob) {
    try (Blob b = c.getBlob(blob)) {
      return b.segment().toArray(ValueLayout.JAVA_BYTE);
    }
  }

  @Test
  void instancesListsEveryDaemonWithItsEndpoints() {
    List<InstanceInfo> seenFromA = ca.instances();
    List<InstanceInfo> seenFromB = cb.instances();
    assertEquals(2, seenFromA.size(), seenFromA.toString());
    assertEquals(
        seenFromA.stream().map(InstanceInfo::id).collect(Collectors.toSet()),
        seenFromB.stream().map(InstanceInfo::id).collect(Collectors.toSet()));
    assertNotEquals(ca.instanceId(), cb.instanceId(), "instance ids must be unique");
    InstanceInfo infoA = a.info();
    assertEquals(a.socket().toAbsolutePath().toString(), infoA.ipcSocket());
    assertTrue(infoA.rpcEndpoint().startsWith("127.0.0.1:"), infoA.rpcEndpoint());
    assertEquals(512L << 20, infoA.capacityBytes());
    try (RpcClient r = RpcClient.connect(infoA.rpcEndpoint())) {
      assertEquals(2, r.instances().size());
      assertEquals(ca.instanceId(), r.stats().instanceId());
    }
  }

  @Test
  void persistedOnAIsSeenFromBByIdNameAndListing() {
    byte[] data = random(3 << 20, 1);
    ObjectId id = putTensor(ca, data);
    String name = "persisted-" + unique++;
    ca.putName(name, id);
    // Not persisted yet: B does not see it.
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.getMeta(id)).code());
    ca.persist(id);
    ca.persist(id); // idempotent

    ObjectMeta fromB = cb.getMeta(id);
    assertEquals(ca.getMeta(id), fromB);
    assertEquals(ca.instanceId(), fromB.instanceId());
    assertEquals(data.length, fromB.member("buffer").nbytes());
    assertEquals(id, cb.getName(name), "a name bound to a persisted object resolves on every instance");
    List<ObjectInfo> global = cb.listObjects("test::Tensor", 0, true).objects();
    assertTrue(global.stream().anyMatch(o -> o.meta().id().equals(id) && o.names().contains(name)), global.toString());
    // B's own listing holds only B's objects.
    assertTrue(cb.listObjects(null, 0).objects().stream().noneMatch(o -> o.meta().id().equals(id)));

    // A name bound after persisting is published too; dropping it drops it everywhere.
    String late = "late-" + unique++;
    ca.putName(late, id);
    assertEquals(id, cb.getName(late));
    ca.dropName(late);
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.getName(late)).code());

    // Deleting on A withdraws it from the cluster.
    ca.delete(List.of(id), false, true);
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.getMeta(id)).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.getName(name)).code());
  }

  @Test
  void migrateMakesAReplicaThatIsReadZeroCopyOnB() {
    byte[] data = random(24 << 20, 2);
    ObjectId id = putTensor(ca, data);
    ca.persist(id);
    long usedBefore = cb.stats().usedBytes();

    ObjectId local = cb.migrate(id);
    assertNotEquals(id, local);
    assertEquals(cb.instanceId(), local.instanceId(), "the replica is minted by B");
    ObjectMeta replica = cb.getMeta(local);
    ObjectMeta original = ca.getMeta(id);
    assertEquals(original.typename(), replica.typename());
    assertEquals(original.fields(), replica.fields());
    assertEquals(original.nbytes(), replica.nbytes());
    assertEquals(original.memberNames(), replica.memberNames());
    ObjectId replicaBlob = replica.member("buffer").id();
    assertEquals(cb.instanceId(), replicaBlob.instanceId());
    assertArrayEquals(data, read(cb, replicaBlob));
    assertTrue(cb.stats().usedBytes() >= usedBefore + data.length, "the bytes now live in B's memory");

    assertEquals(local, cb.migrate(id), "migrating again returns the replica made before");
    assertEquals(local, cb.migrate(local), "a local object is returned as it is");
    assertEquals(id, ca.migrate(id), "an object local to A is returned as it is on A");
  }

  @Test
  void concurrentMigrationsOfOneObjectShareOneCopy() throws Exception {
    byte[] data = random(16 << 20, 8);
    ObjectId id = putTensor(ca, data);
    ca.persist(id);
    long usedBefore = cb.stats().usedBytes();
    try (IpcClient other = b.connect()) {
      var first = java.util.concurrent.CompletableFuture.supplyAsync(() -> cb.migrate(id));
      var second = java.util.concurrent.CompletableFuture.supplyAsync(() -> other.migrate(id));
      assertEquals(first.get(60, TimeUnit.SECONDS), second.get(60, TimeUnit.SECONDS));
    }
    long grown = cb.stats().usedBytes() - usedBefore;
    assertTrue(grown >= data.length && grown < 2L * data.length, "copied once, grew by " + grown);
  }

  @Test
  void deletingAnObjectDoesNotDropANameAnotherInstanceRebound() {
    String name = "rebound-" + unique++;
    ObjectId onA = putTensor(ca, random(100, 9));
    ca.putName(name, onA);
    ca.persist(onA);
    ObjectId onB = putTensor(cb, random(100, 10));
    cb.persist(onB);
    cb.putName(name, onB); // rebinds the cluster-wide name
    assertEquals(onA, ca.getName(name), "a daemon's own binding is looked up first");
    assertEquals(onB, cb.getName(name));
    ca.delete(List.of(onA), false, true);
    assertEquals(onB, cb.getName(name));
    assertEquals(onB, ca.getName(name), "A's delete withdrew only its own binding");
  }

  @Test
  void largeMetadataIsServedOverGrpcAndTooLargeForEtcdIsRefusedClearly() {
    String big = "x".repeat(3 << 20);
    ObjectId large = ca.putMeta(ObjectMeta.builder("test::Large").field("text", big).build());
    try (RpcClient r = RpcClient.connect(a.info().rpcEndpoint())) {
      assertEquals(big, r.getMeta(large).getString("text"), "a 3 MiB reply passes the gRPC message limit");
    }
    VineyardException e = assertThrows(VineyardException.class, () -> ca.persist(large));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
    assertTrue(e.reason().contains("global object"), e.reason());
    assertEquals(2, ca.instances().size(), "a refused request does not make etcd look unreachable");
    ca.delete(large);
  }

  @Test
  void migrateOfUnknownOrUnpersistedObjectsFailsClearly() {
    ObjectId notPersisted = putTensor(ca, random(1000, 3));
    VineyardException e = assertThrows(VineyardException.class, () -> cb.migrate(notPersisted));
    assertEquals(ErrorCode.NOT_FOUND, e.code(), e.getMessage());
    ObjectId unknown = ObjectId.of(false, ca.instanceId(), 12345);
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.migrate(unknown)).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> ca.persist(unknown)).code());
  }

  @Test
  void rpcServesMetadataAndBlobBytesWithProperErrors() {
    byte[] data = random(9 << 20, 4);
    ObjectId id = putTensor(ca, data);
    ObjectId blob = ca.getMeta(id).member("buffer").id();
    try (RpcClient r = RpcClient.connect(a.info().rpcEndpoint())) {
      assertEquals(ca.getMeta(id), r.getMeta(id), "the owner serves its local objects over gRPC");
      assertArrayEquals(data, r.fetchBlob(blob));
      assertTrue(r.listObjects("test::*", 0, false).objects().stream().anyMatch(o -> o.meta().id().equals(id)));

      VineyardException missing =
          assertThrows(VineyardException.class, () -> r.fetchBlob(ObjectId.of(true, 0, 1), MemorySegment.ofArray(new byte[0])));
      assertEquals(ErrorCode.NOT_FOUND, missing.code(), missing.getMessage());
      assertEquals(ErrorCode.INVALID_ARGUMENT,
          assertThrows(VineyardException.class, () -> r.fetchBlob(id, MemorySegment.ofArray(new byte[1]))).code());
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> r.getName("no-such-name")).code());
      assertArrayEquals(new byte[0], r.fetchBlob(ca.putBlob(new byte[0])), "an empty blob is one empty chunk");
      // After a refused fetch the client works on: nothing was left half-read.
      assertArrayEquals(data, r.fetchBlob(blob));
      // The blob was pinned only while streaming.
      assertEquals(0, ca.stats().pinnedBlobCount());
    }
    try (RpcClient nobody = RpcClient.connect("127.0.0.1:1")) {
      assertEquals(ErrorCode.UNAVAILABLE, assertThrows(VineyardException.class, nobody::instances).code());
    }
  }

  @Test
  void globalObjectIsLocatedMemberByMember() {
    ObjectId onA = putTensor(ca, random(1 << 20, 5));
    ObjectId onB = putTensor(cb, random(2 << 20, 6));
    ca.persist(onA);
    cb.persist(onB);
    ObjectId global =
        cb.putMeta(ObjectMeta.builder("test::GlobalTensor").global(true).field("partitions", 2L)
            .member("chunk-0", onA).member("chunk-1", onB).build());
    ObjectMeta meta = ca.getMeta(global);
    assertTrue(meta.isGlobal());
    assertEquals((1 << 20) + (2 << 20), meta.nbytes());

    Map<String, Placement> byPath =
        ca.locate(global).stream().collect(Collectors.toMap(Placement::path, p -> p));
    assertEquals(Set.of("", "chunk-0", "chunk-0/buffer", "chunk-1", "chunk-1/buffer"), byPath.keySet());
    InstanceInfo infoA = a.info();
    InstanceInfo infoB = b.info();
    assertEquals(infoA.id(), byPath.get("chunk-0/buffer").instanceId());
    assertEquals(infoA.rpcEndpoint(), byPath.get("chunk-0/buffer").rpcEndpoint());
    assertEquals(infoA.hostname(), byPath.get("chunk-0").hostname());
    assertEquals(infoB.id(), byPath.get("chunk-1/buffer").instanceId());
    assertEquals(infoB.rpcEndpoint(), byPath.get("chunk-1").rpcEndpoint());
    assertTrue(byPath.get("chunk-1/buffer").isBlob());

    // A member that is not persisted is refused, and a global object itself is not migrated.
    ObjectId loose = putTensor(cb, random(10, 7));
    VineyardException e = assertThrows(VineyardException.class,
        () -> cb.putMeta(ObjectMeta.builder("test::GlobalTensor").global(true).member("chunk-0", loose).build()));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
    assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(VineyardException.class, () -> ca.migrate(global)).code());
    // Its members can be migrated.
    ObjectId chunk1Here = ca.migrate(onB);
    assertEquals(ca.instanceId(), chunk1Here.instanceId());
  }

  /**
   * docs/cluster.md: persist publishes the names bound to every object under the root. The names of
   * member blobs were left out (B resolved 0 of 40).
   */
  @Test
  void persistPublishesTheNamesOfEveryObjectUnderTheRootBlobsIncluded() {
    String prefix = "member-name-" + unique++ + "-";
    ObjectMeta.Builder table = ObjectMeta.builder("test::Table");
    ObjectId[] blobs = new ObjectId[40];
    for (int i = 0; i < blobs.length; i++) {
      blobs[i] = ca.putBlob(random(16, i));
      ca.putName(prefix + "blob-" + i, blobs[i]);
      table.member("column-" + i, blobs[i]);
    }
    ObjectId column = putTensor(ca, random(32, 99));
    ca.putName(prefix + "tensor", column);
    table.member("tensor", column);
    ObjectId root = ca.putMeta(table.build());
    ca.putName(prefix + "root", root);
    ca.persist(root);
    assertEquals(root, cb.getName(prefix + "root"));
    assertEquals(column, cb.getName(prefix + "tensor"));
    int resolved = 0;
    for (int i = 0; i < blobs.length; i++) {
      try {
        assertEquals(blobs[i], cb.getName(prefix + "blob-" + i));
        resolved++;
      } catch (VineyardException e) {
        assertEquals(ErrorCode.NOT_FOUND, e.code(), e.getMessage());
      }
    }
    assertEquals(blobs.length, resolved, "names of member blobs B resolves");
    // ... and what they resolve to is there: B said "does not exist" of a blob it had just named.
    ObjectMeta blob3 = cb.getMeta(cb.getName(prefix + "blob-3"));
    assertTrue(blob3.isBlob() && blob3.nbytes() == 16 && blob3.instanceId() == ca.instanceId(), blob3.toString());
    ObjectId copy = cb.migrate(cb.getName(prefix + "blob-5"));
    try (Blob b = cb.getBlob(copy)) {
      assertArrayEquals(random(16, 5), b.segment().toArray(ValueLayout.JAVA_BYTE));
    }
    // Deleting the tree withdraws them all.
    ca.delete(List.of(root), false, true);
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.getName(prefix + "blob-7")).code());
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cb.getMeta(blobs[7])).code());
  }
}
