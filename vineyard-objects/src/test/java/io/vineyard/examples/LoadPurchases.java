package io.vineyard.examples;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.DataFrame;
import java.nio.file.Path;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.util.Text;

/**
 * Step 1 of the walkthrough (docs/objects.md): loads purchase records into a DataFrame and prints its
 * id. Args: socket, number of purchases.
 */
public final class LoadPurchases {
  public static void main(String[] args) {
    int n = Integer.parseInt(args[1]);
    Random random = new Random(42);
    try (IpcClient client = IpcClient.connect(Path.of(args[0]));
        BufferAllocator allocator = new RootAllocator();
        VarCharVector user = new VarCharVector("user", allocator);
        VarCharVector item = new VarCharVector("item", allocator);
        IntVector quantity = new IntVector("quantity", allocator);
        Float8Vector price = new Float8Vector("price", allocator);
        TimeStampMicroVector at = new TimeStampMicroVector("at", allocator);
        VectorSchemaRoot purchases = VectorSchemaRoot.of(user, item, quantity, price, at)) {
      for (int i = 0; i < n; i++) {
        user.setSafe(i, new Text("user-" + random.nextInt(n / 10 + 1)));
        item.setSafe(i, new Text("item-" + random.nextInt(n / 20 + 1)));
        quantity.setSafe(i, 1 + random.nextInt(5));
        price.setSafe(i, Math.round(random.nextDouble() * 10_000) / 100.0);
        at.setSafe(i, 1_700_000_000_000_000L + i * 1_000_000L);
      }
      purchases.setRowCount(n);
      ObjectId id = DataFrame.write(client, purchases);
      client.putName("purchases", id);
      System.out.println(id);
    }
  }
}
