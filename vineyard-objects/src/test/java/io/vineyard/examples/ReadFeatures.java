package io.vineyard.examples;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.Graph;
import java.nio.file.Path;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;

/**
 * Step 3 of the walkthrough: reads feature columns for a model from the graph: per user, the number
 * of purchases (out-degree), distinct items, and money spent (quantity times price, summed over the
 * user's edges). Prints the totals and the top spender. Args: socket, graph id.
 */
public final class ReadFeatures {
  public static void main(String[] args) {
    try (IpcClient client = IpcClient.connect(Path.of(args[0]));
        Graph g = Graph.open(client, ObjectId.parse(args[1]))) {
      VarCharVector key = (VarCharVector) g.vertices().root().getVector("key");
      IntVector quantity = (IntVector) g.edges().root().getVector("quantity");
      Float8Vector price = (Float8Vector) g.edges().root().getVector("price");
      long users = 0;
      long purchases = 0;
      double spent = 0;
      String topUser = null;
      double topSpent = -1;
      for (long v = 0; v < g.vertexCount(); v++) {
        long degree = g.degree(v);
        if (degree == 0) {
          continue; // an item: no out-edges
        }
        users++;
        purchases += degree;
        double userSpent = 0;
        for (long e = g.edgeStart(v); e < g.edgeStart(v + 1); e++) {
          userSpent += quantity.get((int) e) * price.get((int) e);
        }
        long distinct = java.util.Arrays.stream(g.neighbours(v)).distinct().count();
        spent += userSpent;
        if (userSpent > topSpent) {
          topSpent = userSpent;
          topUser = key.getObject((int) v) + " (" + degree + " purchases, " + distinct + " distinct items)";
        }
      }
      System.out.printf("users=%d purchases=%d spent=%.2f%n", users, purchases, spent);
      System.out.printf("top spender: %s spent %.2f%n", topUser, topSpent);
    }
  }
}
