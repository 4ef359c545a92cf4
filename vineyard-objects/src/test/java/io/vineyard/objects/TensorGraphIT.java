package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.testing.DaemonTestBase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.util.Text;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Tensors, graphs built from edge DataFrames, and the registry's plug-in types, against a real daemon. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TensorGraphIT extends DaemonTestBase {

  @Test
  void aTensorFilledInPlaceReadsBackAsSegmentAndAsArrowVector() {
    ObjectId id;
    try (Tensor.Writer w = Tensor.create(client, DType.FLOAT32, 3, 4)) {
      for (int i = 0; i < 12; i++) {
        w.segment().setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i * 0.5f);
      }
      id = w.seal();
    }
    try (Tensor t = Tensor.open(client, id, allocator)) {
      assertEquals(DType.FLOAT32, t.dtype());
      assertArrayEquals(new long[] {3, 4}, t.shape());
      assertEquals(12, t.elementCount());
      assertEquals(5.5f, t.segment().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 11));
      try (Blob b = client.getBlob(t.meta().member("buffer").id())) {
        assertEquals(b.segment().address(), t.segment().address(), "the tensor views its blob, no copy");
      }
      try (FieldVector v = t.toArrowVector(allocator)) {
        Float4Vector f = (Float4Vector) v;
        assertEquals(12, f.getValueCount());
        assertEquals(0, f.getNullCount());
        assertEquals(3.0f, f.get(6));
        assertEquals(t.segment().address(), f.getDataBuffer().memoryAddress());
      }
    }
  }

  @Test
  void tensorsOfEveryDtypeAndEmptyShapesRoundTrip() {
    for (DType d : DType.values()) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment data = arena.allocate(5L * d.byteSize());
        for (int i = 0; i < data.byteSize(); i++) {
          data.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + d.ordinal()));
        }
        ObjectId id = Tensor.write(client, d, new long[] {5}, data);
        try (Tensor t = Tensor.open(client, id, allocator); FieldVector v = t.toArrowVector(allocator)) {
          assertEquals(-1, t.segment().mismatch(data), d + " bytes differ");
          assertEquals(d.arrowType(), v.getField().getType());
          assertEquals(5, v.getValueCount());
        }
      }
    }
    ObjectId empty = Tensor.write(client, DType.INT64, new long[] {0, 3}, MemorySegment.NULL);
    try (Tensor t = Tensor.open(client, empty, allocator); FieldVector v = t.toArrowVector(allocator)) {
      assertEquals(0, t.elementCount());
      assertEquals(0, v.getValueCount());
    }
    VineyardException e = assertThrows(VineyardException.class,
        () -> Tensor.write(client, DType.INT32, new long[] {2, 2}, MemorySegment.ofArray(new int[3])));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    VineyardException huge = assertThrows(VineyardException.class, () -> Tensor.create(client, DType.INT64, 1L << 61));
    assertEquals(ErrorCode.INVALID_ARGUMENT, huge.code());
    assertThrows(VineyardException.class, () -> Tensor.create(client, DType.INT8, 1L << 32, 1L << 32));
  }

  /** A graph's edge table holds one dictionary per column: a table whose dictionary changes is refused. */
  @Test
  void aGraphFromATableWhoseDictionaryChangesIsRefused() {
    ObjectId tableId;
    try (VarCharVector src = new VarCharVector("src", allocator);
        VarCharVector dst = new VarCharVector("dst", allocator);
        org.apache.arrow.vector.dictionary.DictionaryProvider.MapDictionaryProvider provider =
            new org.apache.arrow.vector.dictionary.DictionaryProvider.MapDictionaryProvider()) {
      src.setSafe(0, new Text("a"));
      dst.setSafe(0, new Text("b"));
      src.setValueCount(1);
      dst.setValueCount(1);
      try (FieldVector colour = ArrowSamples.dictionaryEncoded(allocator, 1, provider);
          VectorSchemaRoot root = new VectorSchemaRoot(List.of(src, dst, colour))) {
        TableWriter w = Table.writer(client, root.getSchema());
        w.append(root, provider);
        // The same column, its dictionary changed: "red" becomes "crimson".
        ((VarCharVector) provider.lookup(7).getVector()).setSafe(0, new Text("crimson"));
        w.append(root, provider);
        tableId = w.finish();
      }
    }
    try (Table t = Table.open(client, tableId, allocator)) {
      VineyardException e = assertThrows(VineyardException.class, () -> GraphBuilder.fromEdges(client, t, "src", "dst"));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("dictionary 7 changes between batches"), e.getMessage());
    }
  }

  /** A user-item purchase table, the graph built from it is checked against a plain adjacency map. */
  @Test
  void aGraphBuiltFromAnEdgeDataFrameMatchesItsEdges() {
    String[][] purchases = {
      {"u1", "i1"}, {"u2", "i1"}, {"u1", "i2"}, {"u3", "i3"}, {"u2", "i3"}, {"u1", "i3"}, {"u4", "i2"}, {"u2", "i2"},
    };
    ObjectId edgesId;
    try (VarCharVector user = new VarCharVector("user", allocator);
        VarCharVector item = new VarCharVector("item", allocator);
        Float8Vector amount = new Float8Vector("amount", allocator)) {
      for (int i = 0; i < purchases.length; i++) {
        user.setSafe(i, new Text(purchases[i][0]));
        item.setSafe(i, new Text(purchases[i][1]));
        amount.setSafe(i, i * 1.5);
      }
      user.setValueCount(purchases.length);
      item.setValueCount(purchases.length);
      amount.setValueCount(purchases.length);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(user, item, amount)) {
        edgesId = DataFrame.write(client, root);
      }
    }
    ObjectId graphId;
    try (DataFrame edges = DataFrame.open(client, edgesId, allocator)) {
      graphId = GraphBuilder.fromEdges(client, edges, "user", "item");
    }
    // What the graph must hold: each user's items with amounts, in input order.
    Map<String, List<String>> expected = new LinkedHashMap<>();
    Map<String, List<Double>> amounts = new HashMap<>();
    for (int i = 0; i < purchases.length; i++) {
      expected.computeIfAbsent(purchases[i][0], k -> new ArrayList<>()).add(purchases[i][1]);
      amounts.computeIfAbsent(purchases[i][0], k -> new ArrayList<>()).add(i * 1.5);
    }
    try (Graph g = (Graph) ObjectTypes.defaults().open(client, graphId, VineyardObject.class, allocator)) {
      assertEquals(8, g.edgeCount());
      assertEquals(4 + 3, g.vertexCount());
      VarCharVector keys = (VarCharVector) g.vertices().root().getVector("key");
      Map<String, List<String>> got = new LinkedHashMap<>();
      Map<String, List<Double>> gotAmounts = new HashMap<>();
      Float8Vector edgeAmount = (Float8Vector) g.edges().root().getVector("amount");
      VarCharVector edgeUser = (VarCharVector) g.edges().root().getVector("user");
      for (int v = 0; v < g.vertexCount(); v++) {
        String key = keys.getObject(v).toString();
        for (long e = g.edgeStart(v); e < g.edgeStart(v + 1); e++) {
          got.computeIfAbsent(key, k -> new ArrayList<>()).add(keys.getObject((int) g.neighbour(e)).toString());
          gotAmounts.computeIfAbsent(key, k -> new ArrayList<>()).add(edgeAmount.get((int) e));
          assertEquals(key, edgeUser.getObject((int) e).toString(), "edge rows are in CSR order");
        }
      }
      assertEquals(expected, got);
      assertEquals(amounts, gotAmounts);
      // Vertices are numbered as keys first appear: u1=0, i1=1, u2=2, i2=3, u3=4, i3=5, u4=6.
      assertArrayEquals(new long[] {1, 3, 5}, g.neighbours(0));
      assertEquals(3, g.degree(2));
      assertEquals(0, g.degree(3), "items have no out-edges");
    }
  }

  @Test
  void aGraphNeedsKeyColumnsOfOneType() {
    try (BigIntVector a = new BigIntVector("a", allocator); VarCharVector b = new VarCharVector("b", allocator)) {
      a.allocateNew(1);
      a.set(0, 1);
      a.setValueCount(1);
      b.setSafe(0, new Text("x"));
      b.setValueCount(1);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(a, b)) {
        VineyardException e = assertThrows(VineyardException.class,
            () -> GraphBuilder.fromEdges(client, List.of(root), null, "a", "b"));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        VineyardException missing = assertThrows(VineyardException.class,
            () -> GraphBuilder.fromEdges(client, List.of(root), null, "a", "nope"));
        assertTrue(missing.getMessage().contains("nope"), missing.getMessage());
      }
    }
  }

  /** A type the daemon and the built-ins know nothing of plugs in through the registry. */
  @Test
  void aNewTypePlugsIntoTheRegistry() {
    ObjectId id = client.putMeta(ObjectMeta.builder("test::Point").field("x", 3L).field("y", 4L).build());
    VineyardException unknown = assertThrows(VineyardException.class, () -> ObjectTypes.builtIn().open(client, id));
    assertEquals(ErrorCode.NOT_FOUND, unknown.code());
    assertTrue(unknown.getMessage().contains("test::Point"), unknown.getMessage());
    // Found on the class path (META-INF/services) by the default registry ...
    try (VineyardObject o = ObjectTypes.defaults().open(client, id)) {
      assertEquals(5.0, ((PointType.Point) o).length());
    }
    // ... and registered by hand on another.
    ObjectTypes mine = ObjectTypes.builtIn().register(new PointType());
    try (PointType.Point p = mine.open(client, id, PointType.Point.class)) {
      assertEquals(3L, p.meta().getLong("x"));
    }
    VineyardException twice = assertThrows(VineyardException.class,
        () -> mine.register(ObjectType.of("test::Point", PointType.Point.class, (c, m) -> null)));
    assertEquals(ErrorCode.ALREADY_EXISTS, twice.code());
    assertTrue(ObjectTypes.defaults().typenames().containsAll(List.of(
        "vineyard::Tensor", "vineyard::DataFrame", "vineyard::Table", "vineyard::Graph",
        "vineyard::GlobalTensor", "vineyard::GlobalDataFrame", "test::Point")));
  }
}
