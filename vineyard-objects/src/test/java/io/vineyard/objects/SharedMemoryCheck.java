package io.vineyard.objects;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.FieldVector;

/** Checks that a DataFrame's vectors are views of its blobs in shared memory, not copies. */
final class SharedMemoryCheck {
  private SharedMemoryCheck() {}

  /** Whether every non-empty buffer of every vector (children too) lies inside one of the frame's blobs. */
  static boolean allBuffersShared(IpcClient client, DataFrame df) {
    List<ObjectId> blobIds = new ArrayList<>();
    collect(df.meta(), blobIds);
    List<long[]> ranges = new ArrayList<>();
    List<Blob> blobs = client.getBlobs(blobIds);
    try {
      for (Blob b : blobs) {
        ranges.add(new long[] {b.segment().address(), b.segment().address() + b.size()});
      }
    } finally {
      blobs.forEach(Blob::close);
    }
    for (FieldVector v : df.root().getFieldVectors()) {
      if (!shared(v, ranges)) {
        return false;
      }
    }
    return true;
  }

  private static boolean shared(FieldVector v, List<long[]> ranges) {
    for (ArrowBuf b : v.getFieldBuffers()) {
      if (b.capacity() == 0 || v.getValueCount() == 0) {
        continue;
      }
      long start = b.memoryAddress();
      boolean inside = ranges.stream().anyMatch(r -> start >= r[0] && start + b.readableBytes() <= r[1]);
      if (!inside) {
        return false;
      }
    }
    for (FieldVector c : v.getChildrenFromFields()) {
      if (!shared(c, ranges)) {
        return false;
      }
    }
    return true;
  }

  private static void collect(ObjectMeta m, List<ObjectId> out) {
    if (m.isBlob()) {
      if (!out.contains(m.id())) {
        out.add(m.id());
      }
      return;
    }
    // Dictionaries are frames of their own; only this frame's body counts here.
    m.members().forEach((name, member) -> {
      if (name.startsWith("buffer_")) {
        collect(member, out);
      }
    });
  }
}
