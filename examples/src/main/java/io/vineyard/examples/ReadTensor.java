package io.vineyard.examples;

import io.vineyard.ObjectMeta;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * In another process: finds the object named {@code features} ({@link WriteTensor}) and reads its
 * doubles from the very pages the writer filled; prints their count and sum.
 *
 * <p>usage: {@code ReadTensor SOCKET}
 */
public final class ReadTensor {

  private ReadTensor() {}

  public static void main(String[] args) {
    Path socket = Args.socket(args, 1, "ReadTensor SOCKET");
    // README: read
    try (IpcClient client = IpcClient.connect(socket)) {
      ObjectMeta meta = client.getMeta(client.getName("features"));
      long n = meta.getLong("length");
      try (Blob b = client.getBlob(meta.member("buffer").id())) {
        MemorySegment data = b.segment();                        // read-only view of the writer's pages
        double sum = 0;
        for (long i = 0; i < n; i++) {
          sum += data.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
        }
        System.out.println(n + " values, sum " + sum);
      }
    }
    // README: end
  }
}
