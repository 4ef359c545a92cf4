package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.Placement;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import io.vineyard.testing.LeakChecks;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.util.Text;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Global DataFrames and Tensors whose chunks live on two daemons sharing a real etcd. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class GlobalObjectsIT {

  @TempDir static Path work;
  static EtcdProcess etcd;
  static DaemonProcess a;
  static DaemonProcess b;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdProcess.start(work);
    String[] flags = {"--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix", "/objects-it", "--etcd-lease-ttl", "3"};
    a = DaemonProcess.start(Files.createDirectory(work.resolve("a")), "256Mi", flags);
    b = DaemonProcess.start(Files.createDirectory(work.resolve("b")), "256Mi", flags);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {a, b, etcd}) {
      if (c != null) {
        c.close();
      }
    }
  }

  /** A chunk of purchases: rows {@code from .. from+rows-1}, stored and persisted on {@code c}. */
  private static ObjectId chunk(IpcClient c, BufferAllocator allocator, int from, int rows) {
    try (BigIntVector id = new BigIntVector("id", allocator); VarCharVector who = new VarCharVector("who", allocator)) {
      id.allocateNew(rows);
      for (int i = 0; i < rows; i++) {
        id.set(i, from + i);
        who.setSafe(i, new Text("user-" + (from + i)));
      }
      id.setValueCount(rows);
      who.setValueCount(rows);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(id, who)) {
        ObjectId chunk = DataFrame.write(c, root);
        c.persist(chunk);
        return chunk;
      }
    }
  }

  @Test
  void aGlobalDataFrameListsItsChunksWithTheirInstancesAndOpensEachFromEitherSide() {
    try (IpcClient ca = a.connect(); IpcClient cb = b.connect(); BufferAllocator allocator = new RootAllocator()) {
      ObjectId onA = chunk(ca, allocator, 0, 100);
      ObjectId onB = chunk(cb, allocator, 100, 50);
      ObjectId global = GlobalDataFrame.create(cb, List.of(onA, onB));

      // Seen from A, though B created it: metadata only, no bytes move.
      try (GlobalDataFrame g = GlobalDataFrame.open(ca, global)) {
        assertTrue(g.meta().isGlobal());
        assertEquals(150, g.rowCount());
        assertEquals(2, g.chunks().size());
        assertEquals(ca.instanceId(), g.chunks().get(0).instanceId());
        assertEquals(cb.instanceId(), g.chunks().get(1).instanceId());
        assertEquals(50, g.rowCount(1));
        assertEquals(List.of(g.chunks().get(0)), g.localChunks());
        List<Placement> where = g.locations();
        assertTrue(where.stream().anyMatch(p -> p.id().equals(onB) && p.instanceId() == cb.instanceId()
            && !p.rpcEndpoint().isEmpty()), where.toString());

        // The local chunk opens in place; the remote one is migrated here first, then read.
        try (DataFrame first = (DataFrame) g.openChunk(0)) {
          assertEquals(onA, first.id());
          assertEquals(99L, ((BigIntVector) first.root().getVector("id")).get(99));
        }
        try (DataFrame second = (DataFrame) g.openChunk(1)) {
          assertNotEquals(onB, second.id(), "a remote chunk is read from a local replica");
          assertEquals(ca.instanceId(), second.meta().instanceId());
          assertEquals(100L, ((BigIntVector) second.root().getVector("id")).get(0));
          assertEquals("user-149", second.root().getVector("who").getObject(49).toString());
        }
      }
      // A chunk of another instance cannot be opened directly: the error says what to do.
      VineyardException e = assertThrows(VineyardException.class, () -> DataFrame.open(ca, onB, allocator));
      assertEquals(ErrorCode.NOT_FOUND, e.code());
      assertTrue(e.getMessage().contains("migrate"), e.getMessage());
      LeakChecks.assertNoOpenHandles(ca);
      LeakChecks.assertNoOpenHandles(cb);
    }
  }

  @Test
  void chunksOfAnotherSchemaAreRefused() {
    try (IpcClient ca = a.connect(); IpcClient cb = b.connect(); BufferAllocator allocator = new RootAllocator()) {
      ObjectId good = chunk(ca, allocator, 0, 3);
      ObjectId other;
      try (BigIntVector x = new BigIntVector("x", allocator)) {
        x.allocateNew(1);
        x.set(0, 1);
        x.setValueCount(1);
        try (VectorSchemaRoot root = VectorSchemaRoot.of(x)) {
          other = DataFrame.write(cb, root);
          cb.persist(other);
        }
      }
      VineyardException e = assertThrows(VineyardException.class, () -> GlobalDataFrame.create(ca, List.of(good, other)));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("schema"), e.getMessage());
    }
  }

  @Test
  void aGlobalTensorConcatenatesItsChunksAlongTheFirstAxis() {
    try (IpcClient ca = a.connect(); IpcClient cb = b.connect()) {
      ObjectId t1;
      try (Tensor.Writer w = Tensor.create(ca, DType.INT64, 2, 3)) {
        for (int i = 0; i < 6; i++) {
          w.segment().setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, i);
        }
        t1 = w.seal();
      }
      ObjectId t2;
      try (Tensor.Writer w = Tensor.create(cb, DType.INT64, 4, 3)) {
        for (int i = 0; i < 12; i++) {
          w.segment().setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, 100 + i);
        }
        t2 = w.seal();
      }
      cb.persist(t2);
      ObjectId global = GlobalTensor.create(ca, List.of(t1, t2));
      try (GlobalTensor g = GlobalTensor.open(cb, global)) {
        assertEquals(DType.INT64, g.dtype());
        assertArrayEquals(new long[] {6, 3}, g.shape());
        assertEquals(2, g.rowOffset(1));
        assertEquals(ca.instanceId(), g.chunks().get(0).instanceId());
        try (Tensor local = g.openChunk(1); Tensor remote = g.openChunk(0)) {
          assertEquals(111L, local.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 11));
          assertEquals(5L, remote.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 5));
        }
      }
      ObjectId wrongShape;
      try (Tensor.Writer w = Tensor.create(ca, DType.INT64, 2, 4)) {
        wrongShape = w.seal();
      }
      VineyardException e = assertThrows(VineyardException.class, () -> GlobalTensor.create(ca, List.of(t1, wrongShape)));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }
  }
}
