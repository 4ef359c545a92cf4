package io.vineyard.objects;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;

/**
 * A typed object read from the store. It views the daemon's shared memory where it can, and keeps the
 * blobs it views pinned until {@link #close()}.
 */
public interface VineyardObject extends AutoCloseable {

  /** The object's metadata, with every member expanded. */
  ObjectMeta meta();

  default ObjectId id() {
    return meta().id();
  }

  /** Releases the shared memory this object views; Arrow buffers handed out keep their own pins. */
  @Override
  void close();
}
