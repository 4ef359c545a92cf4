package io.vineyard.server.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/** Where sealed blobs go when memory is short, and come back from. */
public interface BlobSpiller {

  /** Writes the blob's bytes out; on failure nothing is left behind and the blob stays in memory. */
  void write(long id, MemorySegment bytes) throws IOException;

  /** Reads the blob's bytes back into {@code target} (exactly its size). */
  void read(long id, MemorySegment target) throws IOException;

  /** Forgets a spilled blob (after it was loaded back, or deleted). Best effort. */
  void delete(long id);

  /** Where the spilled bytes are, for messages. */
  String describe();
}
