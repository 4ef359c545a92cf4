package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.objects.internal.ArrowBody;
import io.vineyard.client.IpcClient;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A directed graph in CSR form: vertex {@code v}'s out-edges are positions
 * {@code offsets[v] .. offsets[v+1]-1} of {@code neighbours}, which holds their target vertices. Vertex
 * and edge properties are {@link DataFrame}s whose row {@code i} belongs to vertex {@code i} and to
 * edge position {@code i}. All of it is read over shared memory.
 *
 * <p>Metadata: {@code vertex_count}, {@code edge_count}; members {@code offsets} and {@code neighbours}
 * (int64 {@link Tensor}s), {@code vertices} and {@code edges} (DataFrames). Build one from a table of
 * edges with {@link GraphBuilder}.
 */
public final class Graph implements VineyardObject {

  public static final String TYPENAME = "vineyard::Graph";
  static final String VERTEX_COUNT = "vertex_count";
  static final String EDGE_COUNT = "edge_count";

  static final ObjectType<Graph> TYPE = ObjectType.of(TYPENAME, Graph.class, Graph::read);

  private final IpcClient client;
  private final ObjectMeta meta;
  private final Tensor offsets;
  private final Tensor neighbours;
  private final DataFrame vertices;
  private final DataFrame edges;
  private final long vertexCount;
  private final long edgeCount;

  private Graph(IpcClient client, ObjectMeta meta, Tensor offsets, Tensor neighbours, DataFrame vertices, DataFrame edges) {
    this.client = client;
    this.meta = meta;
    this.offsets = offsets;
    this.neighbours = neighbours;
    this.vertices = vertices;
    this.edges = edges;
    this.vertexCount = meta.getLong(VERTEX_COUNT);
    this.edgeCount = meta.getLong(EDGE_COUNT);
  }

  public static Graph open(IpcClient client, ObjectId id) {
    return ObjectTypes.defaults().open(client, id, Graph.class);
  }

  public static Graph open(IpcClient client, ObjectId id, BufferAllocator allocator) {
    return ObjectTypes.defaults().open(client, id, Graph.class, allocator);
  }

  private static Graph read(ObjectContext context, ObjectMeta meta) {
    context.fetchBlobs(meta);
    Tensor offsets = null;
    Tensor neighbours = null;
    DataFrame vertices = null;
    DataFrame edges = null;
    try {
      offsets = context.open(meta.member("offsets"), Tensor.class);
      neighbours = context.open(meta.member("neighbours"), Tensor.class);
      vertices = context.open(meta.member("vertices"), DataFrame.class);
      edges = context.open(meta.member("edges"), DataFrame.class);
      long n = meta.getLong(VERTEX_COUNT);
      long m = meta.getLong(EDGE_COUNT);
      if (offsets.dtype() != DType.INT64 || offsets.elementCount() != n + 1
          || neighbours.dtype() != DType.INT64 || neighbours.elementCount() != m
          || vertices.rowCount() != n || edges.rowCount() != m) {
        throw ArrowBody.malformed(meta, "its offsets, neighbours or property tables do not match "
            + n + " vertices and " + m + " edges");
      }
      return new Graph(context.client(), meta, offsets, neighbours, vertices, edges);
    } catch (RuntimeException e) {
      for (VineyardObject o : new VineyardObject[] {offsets, neighbours, vertices, edges}) {
        if (o != null) {
          o.close();
        }
      }
      throw e;
    }
  }

  @Override
  public ObjectMeta meta() {
    return meta;
  }

  public long vertexCount() {
    return vertexCount;
  }

  public long edgeCount() {
    return edgeCount;
  }

  /** The first edge position of vertex {@code v}; its edges end at {@code edgeStart(v + 1)}. */
  public long edgeStart(long v) {
    if (v < 0 || v > vertexCount) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "vertex " + v + " is out of range [0, " + vertexCount + ")");
    }
    return offsets.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, v);
  }

  /** The number of out-edges of vertex {@code v}. */
  public long degree(long v) {
    return edgeStart(v + 1) - edgeStart(v);
  }

  /** The target vertex of the edge at position {@code e}. */
  public long neighbour(long e) {
    if (e < 0 || e >= edgeCount) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "edge " + e + " is out of range [0, " + edgeCount + ")");
    }
    return neighbours.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, e);
  }

  /** The targets of vertex {@code v}'s out-edges. */
  public long[] neighbours(long v) {
    long from = edgeStart(v);
    long to = edgeStart(v + 1);
    return neighbours.segment().asSlice(from * 8, (to - from) * 8).toArray(ValueLayout.JAVA_LONG_UNALIGNED);
  }

  /** The {@code vertex_count + 1} offsets, int64, in shared memory. */
  public MemorySegment offsets() {
    return offsets.segment();
  }

  /** The {@code edge_count} targets, int64, in shared memory. */
  public MemorySegment neighbourSegment() {
    return neighbours.segment();
  }

  /** Vertex properties: row {@code v} is vertex {@code v}; column {@code key} holds its key. */
  public DataFrame vertices() {
    return vertices;
  }

  /** Edge properties in CSR order: row {@code e} is the edge at position {@code e}. */
  public DataFrame edges() {
    return edges;
  }

  @Override
  public void close() {
    client.batchReleases(() -> {
      offsets.close();
      neighbours.close();
      vertices.close();
      edges.close();
    });
  }

  @Override
  public String toString() {
    return "Graph{" + meta.id() + ", " + vertexCount + " vertices, " + edgeCount + " edges}";
  }
}
