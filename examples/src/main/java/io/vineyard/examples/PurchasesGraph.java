package io.vineyard.examples;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.DataFrame;
import io.vineyard.objects.Graph;
import io.vineyard.objects.GraphBuilder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.Types.MinorType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Typed objects: stores an Arrow table of purchases as a DataFrame, opens it again as Arrow vectors
 * over the shared memory, and builds the user-item graph of it.
 *
 * <p>usage: {@code PurchasesGraph SOCKET}
 */
public final class PurchasesGraph {

  private PurchasesGraph() {}

  public static void main(String[] args) {
    try (IpcClient client = IpcClient.connect(Args.socket(args, 1, "PurchasesGraph SOCKET"));
        BufferAllocator allocator = new RootAllocator();
        VectorSchemaRoot purchases = purchases(allocator)) {
      // README: dataframe
      ObjectId id = DataFrame.write(client, purchases);                 // every Arrow buffer becomes a blob
      try (DataFrame df = DataFrame.open(client, id)) {                 // in any process on the node
        VectorSchemaRoot root = df.root();                              // Arrow vectors over shared memory
        System.out.println(root.getRowCount() + " purchases: " + root.getSchema());
        ObjectId graph = GraphBuilder.fromEdges(client, df, "user", "item");
        try (Graph g = Graph.open(client, graph)) {
          System.out.println(g.vertexCount() + " vertices, " + g.edgeCount() + " edges");
        }
      }
      // README: end
    }
  }

  /** Three purchases: who bought what, for how much. */
  static VectorSchemaRoot purchases(BufferAllocator allocator) {
    VectorSchemaRoot root = VectorSchemaRoot.create(new Schema(List.of(
        Field.nullable("user", MinorType.VARCHAR.getType()),
        Field.nullable("item", MinorType.VARCHAR.getType()),
        Field.nullable("amount", MinorType.FLOAT8.getType()))),
        allocator);
    String[][] rows = {{"u1", "i1", "1.5"}, {"u2", "i1", "4.0"}, {"u1", "i2", "3.25"}};
    VarCharVector user = (VarCharVector) root.getVector("user");
    VarCharVector item = (VarCharVector) root.getVector("item");
    Float8Vector amount = (Float8Vector) root.getVector("amount");
    root.allocateNew();
    for (int i = 0; i < rows.length; i++) {
      user.setSafe(i, rows[i][0].getBytes(StandardCharsets.UTF_8));
      item.setSafe(i, rows[i][1].getBytes(StandardCharsets.UTF_8));
      amount.setSafe(i, Double.parseDouble(rows[i][2]));
    }
    root.setRowCount(rows.length);
    return root;
  }
}
