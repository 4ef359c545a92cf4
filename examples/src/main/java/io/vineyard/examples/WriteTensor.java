package io.vineyard.examples;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * Writes {@code n} doubles into shared memory once, describes them as an object and names it
 * {@code features}, for any process on the node to read without a copy ({@link ReadTensor}).
 *
 * <p>usage: {@code WriteTensor SOCKET [N]}
 */
public final class WriteTensor {

  private WriteTensor() {}

  public static void main(String[] args) {
    String usage = "WriteTensor SOCKET [N]";
    Path socket = Args.socket(args, 2, usage);
    long n = Args.count(args, 1, 1_000_000, usage);
    // README: write
    try (IpcClient client = IpcClient.connect(socket)) {
      ObjectId blobId;
      try (BlobWriter w = client.createBlob(n * Double.BYTES)) { // shared memory, writable
        fill(w.segment(), n);                                    // a MemorySegment, or w.toArrowBuf(allocator)
        blobId = w.seal();                                       // immutable from here on
      }
      ObjectId tensor = client.putMeta(ObjectMeta.builder("demo::Tensor")
          .field("dtype", "float64").field("length", n).member("buffer", blobId).build());
      client.putName("features", tensor);
      System.out.println(tensor);
    }
    // README: end
  }

  /** Element {@code i} is {@code i / 2.0}. */
  static void fill(MemorySegment data, long n) {
    for (long i = 0; i < n; i++) {
      data.setAtIndex(ValueLayout.JAVA_DOUBLE, i, i / 2.0);
    }
  }
}
