package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import io.vineyard.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the cluster does when things fail: etcd going away and coming back (with and without its
 * data), and a daemon that is killed. Steps run in order against the same etcd and daemons.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFailoverIT {

  @TempDir static Path work;
  static EtcdProcess etcd;
  static DaemonProcess a;
  static DaemonProcess b;
  static DaemonProcess c;
  static String[] flags;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdProcess.start(work);
    flags = new String[] {"--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix", "/failover-it",
        "--etcd-lease-ttl", "3", "--etcd-timeout", "2"};
    a = DaemonProcess.start(Files.createDirectory(work.resolve("a")), "256Mi", flags);
    b = DaemonProcess.start(Files.createDirectory(work.resolve("b")), "256Mi", flags);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable x : new AutoCloseable[] {a, b, c, etcd}) {
      if (x != null) {
        x.close();
      }
    }
  }

  static void await(String what, Duration timeout, BooleanSupplier condition) {
    Poll.ignoring(VineyardException.class).await(timeout, Duration.ofMillis(200), what, condition::getAsBoolean);
  }

  static Set<Long> instanceIds(IpcClient client) {
    return client.instances().stream().map(InstanceInfo::id).collect(Collectors.toSet());
  }

  static ObjectId putBlobAndPersist(IpcClient client, byte[] data, String name) {
    ObjectId id = client.putBlob(data);
    client.putName(name, id);
    client.persist(id);
    return id;
  }

  @Test
  @Order(1)
  void etcdRestartedWithItsDataChangesNothing() throws Exception {
    try (IpcClient ca = a.connect(); IpcClient cb = b.connect()) {
      ObjectId id = putBlobAndPersist(ca, new byte[] {1, 2, 3}, "kept");
      etcd.restart(false);
      await("B sees the cluster again", Duration.ofSeconds(60), () -> instanceIds(cb).size() == 2);
      assertEquals(id, cb.getName("kept"));
      assertEquals(Set.of(ca.instanceId(), cb.instanceId()), instanceIds(cb));
    }
  }

  @Test
  @Order(2)
  void whileEtcdIsDownLocalWorkGoesOnAndClusterCallsFailFast() throws Exception {
    try (IpcClient cb = b.connect()) {
      ObjectId survivor = putBlobAndPersist(cb, "survives a wiped etcd".getBytes(), "survivor");
      ObjectId doomed = putBlobAndPersist(cb, "deleted while etcd is down".getBytes(), "doomed");
      // Enough metadata that publishing it again takes several etcd transactions (about 2.4 MB).
      String padding = "p".repeat(20_000);
      for (int i = 0; i < 120; i++) {
        cb.persist(cb.putMeta(ObjectMeta.builder("failover::Bulk").field("i", (long) i).field("pad", padding).build()));
      }

      etcd.kill();
      // Local put and get keep working.
      byte[] data = new byte[1 << 20];
      data[12345] = 42;
      ObjectId local = cb.putBlob(data);
      assertArrayEquals(data, ClusterIT.read(cb, local));
      assertEquals(survivor, cb.getName("survivor"), "local names resolve locally");
      assertTrue(cb.exists(survivor));
      cb.delete(List.of(doomed), false, false); // local delete succeeds; withdrawal is retried later
      VineyardException gone = assertThrows(VineyardException.class, () -> cb.getMeta(doomed));
      assertEquals(ErrorCode.NOT_FOUND, gone.code(), "an id of this instance needs no etcd to be known gone");

      // Cluster calls fail with UNAVAILABLE, promptly, however many are made.
      for (int i = 0; i < 3; i++) {
        long t0 = System.nanoTime();
        VineyardException e = assertThrows(VineyardException.class, () -> cb.persist(local));
        assertEquals(ErrorCode.UNAVAILABLE, e.code(), e.getMessage());
        assertEquals(ErrorCode.UNAVAILABLE, assertThrows(VineyardException.class, cb::instances).code());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // Bounded by --etcd-timeout (2 s) per call at worst; a hang would trip the class timeout.
        assertTrue(ms < 10_000, "cluster calls took " + ms + " ms while etcd was down");
      }

      etcd.restart(true); // back, with nothing in it
      try (IpcClient ca = a.connect()) {
        await("both daemons registered again", Duration.ofSeconds(90), () -> instanceIds(cb).size() == 2);
        assertEquals(Set.of(ca.instanceId(), cb.instanceId()), instanceIds(cb), "same instance ids as before");
      }
      cb.persist(local); // works again
    }
    // A daemon that joins now sees what B had published before etcd lost it, and not what B deleted.
    c = DaemonProcess.start(Files.createDirectory(work.resolve("c")), "256Mi", flags);
    try (IpcClient cc = c.connect(); IpcClient cb = b.connect(); IpcClient ca = a.connect()) {
      ObjectId survivor = cb.getName("survivor");
      await("B's objects published again", Duration.ofSeconds(30), () -> cc.getName("survivor").equals(survivor));
      assertEquals(cb.getMeta(survivor), cc.getMeta(survivor));
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cc.getName("doomed")).code());
      assertEquals(120, cc.listObjects("failover::Bulk", 0, true).objects().size(), "all of it published again");
      assertEquals(ca.getName("kept"), cc.getName("kept"), "A published its objects again too");
      assertEquals(3, instanceIds(cc).size());
    }
  }

  @Test
  @Order(3)
  void aKilledDaemonDropsOutWhenItsLeaseExpires() throws Exception {
    long idA;
    ObjectId published;
    try (IpcClient ca = a.connect()) {
      idA = ca.instanceId();
      published = ca.getName("kept");
    }
    a.kill();
    try (IpcClient cc = c.connect()) {
      assertTrue(instanceIds(cc).contains(idA), "still listed until the lease expires");
      // Until then its objects are listed but their bytes cannot be fetched: the error says from where.
      VineyardException e = assertThrows(VineyardException.class, () -> cc.migrate(published));
      assertEquals(ErrorCode.UNAVAILABLE, e.code(), e.getMessage());
      assertTrue(e.reason().contains("from instance " + idA) && e.reason().contains("Connection refused"), e.reason());
      await("A dropped out", Duration.ofSeconds(30), () -> !instanceIds(cc).contains(idA));
      assertFalse(cc.listObjects(null, 0, true).objects().stream().anyMatch(o -> o.meta().id().equals(published)),
          "what A published went with it");
      assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> cc.getMeta(published)).code());
    }
  }
}
