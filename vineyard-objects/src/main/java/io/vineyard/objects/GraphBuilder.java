package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * Builds a {@link Graph} from a table of edges: one row per edge, a source key column and a target
 * key column (integers or strings, of one type). Every distinct key becomes a vertex, numbered in the
 * order keys first appear (source before target, row by row); the vertex table has one column,
 * {@code key}. The edge table keeps every column of the input (the keys too), its rows reordered into
 * CSR order, edges of one source in their input order.
 */
public final class GraphBuilder {
  private GraphBuilder() {}

  /** Builds the graph of the edges in a DataFrame. */
  public static ObjectId fromEdges(IpcClient client, DataFrame edges, String sourceColumn, String targetColumn) {
    return fromEdges(client, List.of(edges.root()), edges.dictionaries(), sourceColumn, targetColumn);
  }

  /** Builds the graph of the edges in all batches of a Table. */
  public static ObjectId fromEdges(IpcClient client, Table edges, String sourceColumn, String targetColumn) {
    FrameCodec.checkDictionariesShared(edges.batches(), "a graph's edge table has one dictionary per column");
    if (edges.batches().isEmpty()) {
      try (BufferAllocator a = new RootAllocator(); VectorSchemaRoot none = VectorSchemaRoot.create(edges.schema(), a)) {
        return fromEdges(client, List.of(none), null, sourceColumn, targetColumn);
      }
    }
    List<VectorSchemaRoot> roots = edges.batches().stream().map(DataFrame::root).toList();
    return fromEdges(client, roots, edges.batches().getFirst().dictionaries(), sourceColumn, targetColumn);
  }

  /**
   * Builds the graph of the edges in {@code batches} (all of one schema); dictionary-encoded property
   * columns take their dictionaries from {@code provider}. Returns the graph's id.
   */
  public static ObjectId fromEdges(
      IpcClient client, List<VectorSchemaRoot> batches, DictionaryProvider provider, String sourceColumn, String targetColumn) {
    if (batches.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no batch of edges given");
    }
    var schema = batches.getFirst().getSchema();
    Field src = column(schema, sourceColumn);
    Field dst = column(schema, targetColumn);
    checkKey(src);
    checkKey(dst);
    if (!src.getType().equals(dst.getType())) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "source column '" + sourceColumn + "' is " + src.getType() + " but target column '"
              + targetColumn + "' is " + dst.getType() + "; vertex keys need one type");
    }
    long total = 0;
    for (VectorSchemaRoot b : batches) {
      if (!b.getSchema().equals(schema)) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "edge batches have different schemas");
      }
      total += b.getRowCount();
    }
    if (total > Integer.MAX_VALUE - 8) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "at most 2^31 edges per graph; got " + total);
    }
    int m = (int) total;

    // Number the vertices in the order their keys first appear; remember where each key was seen.
    Map<Object, Integer> vertexOf = new HashMap<>();
    List<FieldVector> firstSeenIn = new ArrayList<>();
    List<Integer> firstSeenAt = new ArrayList<>();
    int[] srcVertex = new int[m];
    int[] dstVertex = new int[m];
    int[] batchOf = new int[m];
    int[] rowOf = new int[m];
    int e = 0;
    for (int b = 0; b < batches.size(); b++) {
      VectorSchemaRoot root = batches.get(b);
      FieldVector s = root.getVector(sourceColumn);
      FieldVector d = root.getVector(targetColumn);
      for (int r = 0; r < root.getRowCount(); r++, e++) {
        srcVertex[e] = vertex(vertexOf, firstSeenIn, firstSeenAt, s, r, sourceColumn, b);
        dstVertex[e] = vertex(vertexOf, firstSeenIn, firstSeenAt, d, r, targetColumn, b);
        batchOf[e] = b;
        rowOf[e] = r;
      }
    }
    int n = vertexOf.size();

    // Counting sort by source: a stable CSR.
    long[] offsets = new long[n + 1];
    for (int i = 0; i < m; i++) {
      offsets[srcVertex[i] + 1]++;
    }
    for (int v = 0; v < n; v++) {
      offsets[v + 1] += offsets[v];
    }
    int[] order = new int[m];
    long[] cursor = java.util.Arrays.copyOf(offsets, n);
    for (int i = 0; i < m; i++) {
      order[(int) cursor[srcVertex[i]]++] = i;
    }

    List<ObjectId> created = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      ObjectId offsetsId;
      try (Tensor.Writer w = Tensor.create(client, DType.INT64, n + 1L)) {
        MemorySegment.copy(MemorySegment.ofArray(offsets), 0, w.segment(), 0, w.byteSize());
        offsetsId = w.seal();
        created.add(offsetsId);
      }
      ObjectId neighboursId;
      try (Tensor.Writer w = Tensor.create(client, DType.INT64, (long) m)) {
        MemorySegment seg = w.segment();
        for (int p = 0; p < m; p++) {
          seg.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, p, dstVertex[order[p]]);
        }
        neighboursId = w.seal();
        created.add(neighboursId);
      }
      ObjectId verticesId;
      try (FieldVector keys = Field.notNullable("key", src.getType()).createVector(allocator)) {
        keys.setInitialCapacity(n);
        keys.allocateNew();
        for (int v = 0; v < n; v++) {
          keys.copyFromSafe(firstSeenAt.get(v), v, firstSeenIn.get(v));
        }
        keys.setValueCount(n);
        try (VectorSchemaRoot vroot = new VectorSchemaRoot(List.of(keys.getField()), List.of(keys), n)) {
          verticesId = DataFrame.write(client, vroot);
          created.add(verticesId);
        }
      }
      ObjectId edgesId;
      List<FieldVector> columns = new ArrayList<>();
      try {
        for (Field f : schema.getFields()) {
          FieldVector out = f.createVector(allocator);
          columns.add(out);
          out.setInitialCapacity(m);
          out.allocateNew();
          int ci = columns.size() - 1;
          for (int p = 0; p < m; p++) {
            int i = order[p];
            out.copyFromSafe(rowOf[i], p, batches.get(batchOf[i]).getVector(ci));
          }
          out.setValueCount(m);
        }
        try (VectorSchemaRoot eroot = new VectorSchemaRoot(schema.getFields(), columns, m)) {
          edgesId = DataFrame.write(client, eroot, provider);
          created.add(edgesId);
        }
      } finally {
        columns.forEach(FieldVector::close);
      }
      ObjectMeta meta = ObjectMeta.builder(Graph.TYPENAME)
          .field(Graph.VERTEX_COUNT, (long) n)
          .field(Graph.EDGE_COUNT, (long) m)
          .field("source_column", sourceColumn)
          .field("target_column", targetColumn)
          .member("offsets", offsetsId)
          .member("neighbours", neighboursId)
          .member("vertices", verticesId)
          .member("edges", edgesId)
          .build();
      return client.putMeta(meta);
    } catch (RuntimeException ex) {
      // Members go with their blobs (deep), as nothing else references them yet.
      if (!created.isEmpty() && !client.isClosed()) {
        try {
          client.delete(created, true, true);
        } catch (RuntimeException suppressed) {
          ex.addSuppressed(suppressed);
        }
      }
      throw ex;
    }
  }

  private static int vertex(
      Map<Object, Integer> vertexOf, List<FieldVector> seenIn, List<Integer> seenAt, FieldVector keys, int row, String column, int batch) {
    Object key = keys.getObject(row);
    if (key == null) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "edge " + row + " of batch " + batch + " has no " + column + " (null key)");
    }
    Integer v = vertexOf.get(key);
    if (v == null) {
      v = vertexOf.size();
      vertexOf.put(key, v);
      seenIn.add(keys);
      seenAt.add(row);
    }
    return v;
  }

  private static Field column(org.apache.arrow.vector.types.pojo.Schema schema, String name) {
    try {
      return schema.findField(name);
    } catch (IllegalArgumentException e) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "no column '" + name + "' among " + schema.getFields().stream().map(Field::getName).toList());
    }
  }

  private static void checkKey(Field f) {
    if (f.getDictionary() != null) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "key column '" + f.getName() + "' is dictionary-encoded; decode it first");
    }
    ArrowType t = f.getType();
    if (!(t instanceof ArrowType.Int || t instanceof ArrowType.Utf8 || t instanceof ArrowType.LargeUtf8)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "key column '" + f.getName() + "' is " + t + "; keys are integers or strings");
    }
  }
}
