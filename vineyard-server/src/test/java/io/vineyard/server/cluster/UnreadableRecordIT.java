package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.ObjectInfo;
import io.vineyard.client.RpcClient;
import io.vineyard.server.records.RecordCodec;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Values in etcd this daemon cannot read (a newer format version, an old bare IPC message) are
 * skipped by the global listing with a warning naming the key; looking them up says why; every other
 * object still lists and reads.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class UnreadableRecordIT {

  private static final String PREFIX = "/unreadable-it";

  @TempDir Path work;

  @Test
  void unreadableValuesAreSkippedByListingsAndExplainedByLookups() throws Exception {
    try (EtcdProcess etcd = EtcdProcess.start(work);
        DaemonProcess daemon = DaemonProcess.start(work, "128Mi",
            "--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix", PREFIX, "--etcd-lease-ttl", "5");
        IpcClient c = daemon.connect();
        Client jetcd = Client.builder().endpoints(etcd.endpoint()).build()) {
      ObjectId buffer = c.putBlob(new byte[] {1, 2});
      ObjectId first = c.putMeta(ObjectMeta.builder("test::Good").field("n", 1L).member("buffer", buffer).build());
      ObjectId second = c.putMeta(ObjectMeta.builder("test::Good").field("n", 2L).build());
      c.persist(first);
      c.persist(second);
      c.putName("good", first);

      // Written by "a newer daemon" of instance 99: format version 9, body this daemon never parses.
      ObjectId newer = ObjectId.of(false, 99, 1);
      byte[] newerValue = {'V', 'Y', 'R', 9, 0x0a, 0x02, 0x08, 0x01};
      String newerKey = PREFIX + "/objects/00099/" + newer;
      // Written by a daemon before format 1: a bare protobuf message, no header.
      ObjectId older = ObjectId.of(false, 98, 1);
      String olderKey = PREFIX + "/objects/00098/" + older;
      put(jetcd, newerKey, newerValue);
      put(jetcd, olderKey, new byte[] {0x08, 0x01, 0x12, 0x07, 't', 'e', 's', 't', ':', ':', 'X'});
      put(jetcd, PREFIX + "/names/from-the-future", newerValue);

      List<ObjectInfo> listed = c.listObjects(null, 0, true).objects();
      Set<ObjectId> ids = listed.stream().map(o -> o.meta().id()).collect(Collectors.toSet());
      // The member blob is persisted with its object, as a record of its own.
      assertEquals(Set.of(first, second, buffer), ids, "every readable object lists, the unreadable ones do not: " + listed);
      assertEquals(List.of("good"),
          listed.stream().filter(o -> o.meta().id().equals(first)).findFirst().orElseThrow().names());
      try (RpcClient rpc = RpcClient.connect(daemon.info().rpcEndpoint())) {
        assertEquals(Set.of(first, second, buffer),
            rpc.listObjects(null, 0, true).objects().stream().map(o -> o.meta().id()).collect(Collectors.toSet()));
      }

      VineyardException e = assertThrows(VineyardException.class, () -> c.getMeta(newer));
      assertEquals(ErrorCode.IO_ERROR, e.code());
      assertTrue(e.reason().contains(newerKey) && e.reason().contains("format version 9"), e.reason());
      e = assertThrows(VineyardException.class, () -> c.getMeta(older));
      assertEquals(ErrorCode.IO_ERROR, e.code());
      assertTrue(e.reason().contains(olderKey) && e.reason().contains("no 'VYR' header"), e.reason());
      e = assertThrows(VineyardException.class, () -> c.getName("from-the-future"));
      assertEquals(ErrorCode.IO_ERROR, e.code());
      assertTrue(e.reason().contains("format version 9"), e.reason());

      // The readable ones read, by id and name; the instance record is still readable.
      assertEquals(first, c.getName("good"));
      assertEquals(2L, c.getMeta(second).getLong("n"));
      assertEquals(1, c.instances().size());

      String log = daemon.log();
      assertTrue(log.contains("skipping etcd key " + newerKey), log);
      assertTrue(log.contains("skipping etcd key " + olderKey), log);
      assertTrue(log.contains("skipping etcd key " + PREFIX + "/names/from-the-future"), log);
      // One warning per key and value, not one per listing.
      c.listObjects(null, 0, true);
      assertEquals(1, count(daemon.log(), "skipping etcd key " + newerKey));

      // What this daemon wrote is in the record format, version 1.
      byte[] mine = jetcd.getKVClient().get(bytes(PREFIX + "/objects/" + String.format("%05d", first.instanceId()) + "/" + first))
          .get(10, TimeUnit.SECONDS).getKvs().getFirst().getValue().getBytes();
      assertEquals(c.getMeta(first), RecordCodec.decodeTree(mine));
      assertFalse(mine.length == 0);
    }
  }

  private static void put(Client jetcd, String key, byte[] value) throws Exception {
    jetcd.getKVClient().put(bytes(key), ByteSequence.from(value)).get(10, TimeUnit.SECONDS);
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }
}
