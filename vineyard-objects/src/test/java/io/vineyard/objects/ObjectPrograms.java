package io.vineyard.objects;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import java.nio.file.Path;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/** Programs that integration tests run in JVMs of their own, to read objects from another process. */
final class ObjectPrograms {
  private ObjectPrograms() {}

  /**
   * Opens a DataFrame or Table and prints every row (dictionaries decoded), then whether every buffer
   * lies in shared memory. Args: socket, id.
   */
  static final class PrintRows {
    public static void main(String[] args) {
      try (IpcClient client = IpcClient.connect(Path.of(args[0]));
          BufferAllocator allocator = new RootAllocator()) {
        try (VineyardObject o = ObjectTypes.defaults().open(client, ObjectId.parse(args[1]), VineyardObject.class, allocator)) {
          var frames = o instanceof Table t ? t.batches() : java.util.List.of((DataFrame) o);
          for (DataFrame df : frames) {
            for (String row : ArrowSamples.rowsOf(df.root(), df.dictionaries())) {
              System.out.println("ROW " + row);
            }
            System.out.println("SHARED " + SharedMemoryCheck.allBuffersShared(client, df));
          }
        }
        System.out.println("LEAKED " + allocator.getAllocatedMemory() + " " + client.openHandleCount());
      }
    }
  }

  /**
   * Opens a Table and prints its row and batch counts and the sum of its int64 column {@code v},
   * reading every value from shared memory. Args: socket, id.
   */
  static final class SumColumn {
    public static void main(String[] args) {
      try (IpcClient client = IpcClient.connect(Path.of(args[0]));
          BufferAllocator allocator = new RootAllocator();
          Table t = Table.open(client, ObjectId.parse(args[1]), allocator)) {
        long sum = 0;
        long rows = 0;
        for (DataFrame df : t.batches()) {
          var v = (org.apache.arrow.vector.BigIntVector) df.root().getVector("v");
          for (int i = 0; i < df.rowCount(); i++) {
            sum += v.get(i);
          }
          rows += df.rowCount();
        }
        System.out.println("TABLE rows=" + rows + " batches=" + t.batches().size() + " sum=" + sum + " nbytes=" + t.meta().nbytes());
      }
    }
  }

  /**
   * Appends small batches to a table, printing {@code APPENDED n} after each, until stopped (at most
   * 10,000 batches or 60 s). Args: socket.
   */
  static final class SlowTableWriter {
    public static void main(String[] args) throws InterruptedException {
      try (IpcClient client = IpcClient.connect(Path.of(args[0]));
          BufferAllocator allocator = new RootAllocator();
          org.apache.arrow.vector.BigIntVector v = new org.apache.arrow.vector.BigIntVector("v", allocator);
          org.apache.arrow.vector.VectorSchemaRoot root = org.apache.arrow.vector.VectorSchemaRoot.of(v)) {
        v.allocateNew(1000);
        for (int i = 0; i < 1000; i++) {
          v.set(i, i);
        }
        v.setValueCount(1000);
        root.setRowCount(1000);
        TableWriter w = Table.writer(client, root.getSchema());
        long deadline = System.nanoTime() + 60_000_000_000L;
        for (int n = 1; n <= 10_000 && System.nanoTime() < deadline; n++) {
          w.append(root);
          System.out.println("APPENDED " + n);
          Thread.sleep(20);
        }
      }
    }
  }
}
