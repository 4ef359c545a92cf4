package io.vineyard.server.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/** Where sealed blobs go when memory is short, and come back from. */
public interface BlobSpiller {

  /** Writes the blob's bytes out; on failure nothing is left behind and the blob stays in memory. */
  void write(long id, MemorySegment bytes) throws IOException;

  /** Reads the blob's bytes back into {@code target} (exactly its size). */
  void read(long id, MemorySegment target) throws IOException;

  /** A blob of a window given to {@link #swapRun}: {@code size} bytes at {@code offset} in it. */
  record Piece(long id, long offset, long size) {}

  /**
   * Exchanges a spilled blob with resident ones when neither memory nor the spill directory has
   * room for it: {@code window} is memory that holds them (and free space), each piece a blob at
   * its offset in it. Afterwards the first {@code spilledSize} bytes of the window hold the spilled
   * blob, and each piece's bytes (as they were) are spilled under its id, in the space the spilled
   * blob took (plus what the window has more). On failure nothing has changed.
   *
   * @throws IOException when it cannot (this spiller does not exchange, or what the window has more
   *     does not fit)
   */
  default void swapRun(long spilledId, long spilledSize, MemorySegment window, java.util.List<Piece> pieces) throws IOException {
    throw new IOException(describe() + " cannot exchange blobs in place");
  }

  /** Forgets a spilled blob (after it was loaded back, or deleted). Best effort. */
  void delete(long id);

  /** Where the spilled bytes are, for messages. */
  String describe();
}
