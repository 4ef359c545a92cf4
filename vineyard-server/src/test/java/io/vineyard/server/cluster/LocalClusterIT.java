package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.ObjectInfo;
import io.vineyard.client.RpcClient;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.PersistRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.server.testing.RawIpc;
import io.vineyard.testing.DaemonProcess;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One daemon with the default local metadata: the cluster calls work on a single node, without
 * etcd, and the gRPC port serves it.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class LocalClusterIT {

  @TempDir static Path work;
  static DaemonProcess daemon;
  static IpcClient client;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(work, "128Mi");
    client = daemon.connect();
  }

  @AfterAll
  static void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void theClusterIsThisOneInstance() {
    List<InstanceInfo> instances = client.instances();
    assertEquals(1, instances.size());
    InstanceInfo self = instances.getFirst();
    assertEquals(0, self.id(), "instance 0 by default with local metadata");
    assertEquals(daemon.socket().toAbsolutePath().toString(), self.ipcSocket());
    assertEquals(128L << 20, self.capacityBytes());
    try (RpcClient rpc = RpcClient.connect(self.rpcEndpoint())) {
      assertEquals(instances, rpc.instances());
    }
  }

  @Test
  void persistListsGloballyAndGlobalObjectsLocate() {
    ObjectId blob = client.putBlob(new byte[4096]);
    ObjectId obj = client.putMeta(ObjectMeta.builder("local::Thing").field("k", "v").member("data", blob).build());
    client.putName("local-thing", obj);
    assertTrue(client.listObjects("local::Thing", 0, true).objects().isEmpty(), "not persisted yet");
    client.persist(obj);
    List<ObjectInfo> global = client.listObjects("local::Thing", 0, true).objects();
    assertEquals(1, global.size());
    assertEquals(obj, global.getFirst().meta().id());
    assertEquals(List.of("local-thing"), global.getFirst().names());

    ObjectId g = client.putMeta(ObjectMeta.builder("local::Global").global(true).member("part-0", obj).build());
    assertTrue(client.exists(g));
    ObjectMeta gm = client.getMeta(g);
    assertTrue(gm.isGlobal());
    assertEquals(client.getMeta(obj), gm.member("part-0"));
    List<Placement> where = client.locate(g);
    assertEquals(List.of("", "part-0", "part-0/data"), where.stream().map(Placement::path).toList());
    assertTrue(where.stream().allMatch(p -> p.instanceId() == 0 && !p.rpcEndpoint().isEmpty()), where.toString());
    assertEquals(obj, client.migrate(obj), "local objects are returned as they are");

    // Deleting the global object leaves its members; the listing follows.
    assertEquals(List.of(g), client.delete(List.of(g), false, false));
    assertEquals(ErrorCode.NOT_FOUND, assertThrows(VineyardException.class, () -> client.getMeta(g)).code());
    assertTrue(client.exists(obj));
    client.delete(List.of(obj), false, true);
    assertTrue(client.listObjects("local::*", 0, true).objects().isEmpty());
  }

  @Test
  void pipelinedRequestsAreAllAnsweredByIdAroundClusterCalls() throws Exception {
    ObjectId blob = client.putBlob(new byte[] {1});
    client.putName("pipelined", blob);
    try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
      // Sent in one write: the cluster calls (persist, instances, a name not bound here) are served
      // off the event loop; every request gets exactly one answer, carrying its id, in any order.
      RawIpc.sendAll(ch,
          RawIpc.register(),
          Request.newBuilder().setRequestId(11).setPersist(PersistRequest.newBuilder().setId(blob.value())).build(),
          Request.newBuilder().setRequestId(12).setStats(StatsRequest.getDefaultInstance()).build(),
          Request.newBuilder().setRequestId(13).setInstances(InstancesRequest.getDefaultInstance()).build(),
          Request.newBuilder().setRequestId(14).setGetName(GetNameRequest.newBuilder().setName("no-such-name")).build(),
          Request.newBuilder().setRequestId(15).setGetName(GetNameRequest.newBuilder().setName("pipelined")).build());
      assertEquals(Response.BodyCase.REGISTER, RawIpc.read(ch).getBodyCase());
      java.util.Map<Long, Response> byId = new java.util.HashMap<>();
      for (int i = 0; i < 5; i++) {
        Response r = RawIpc.read(ch);
        assertNull(byId.put(r.getRequestId(), r), "one answer per request");
      }
      assertEquals(Response.BodyCase.PERSIST, byId.get(11L).getBodyCase());
      assertEquals(Response.BodyCase.STATS, byId.get(12L).getBodyCase());
      assertEquals(1, byId.get(13L).getInstances().getInstancesCount());
      assertEquals(ErrorCode.NOT_FOUND.code(), byId.get(14L).getError().getCode());
      assertEquals(blob.value(), byId.get(15L).getGetName().getId());
    }
    client.delete(blob);
  }
}
