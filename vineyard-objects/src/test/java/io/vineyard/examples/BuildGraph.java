package io.vineyard.examples;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.DataFrame;
import io.vineyard.objects.Graph;
import io.vineyard.objects.GraphBuilder;
import java.nio.file.Path;

/**
 * Step 2 of the walkthrough: builds the user-item graph of the purchases DataFrame (one edge per
 * purchase, from user to item, the other columns as edge properties) and prints the graph's id.
 * Args: socket, purchases id.
 */
public final class BuildGraph {
  public static void main(String[] args) {
    try (IpcClient client = IpcClient.connect(Path.of(args[0]))) {
      ObjectId graphId;
      try (DataFrame purchases = DataFrame.open(client, ObjectId.parse(args[1]))) {
        graphId = GraphBuilder.fromEdges(client, purchases, "user", "item");
      }
      try (Graph g = Graph.open(client, graphId)) {
        System.err.println("graph: " + g.vertexCount() + " vertices, " + g.edgeCount() + " edges");
      }
      System.out.println(graphId);
    }
  }
}
