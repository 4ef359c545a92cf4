package io.vineyard.server.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/** Where sealed blobs go when memory is short, and come back from. */
public interface BlobSpiller {

  /** Writes the blob's bytes out; on failure nothing is left behind and the blob stays in memory. */
  void write(long id, MemorySegment bytes) throws IOException;

  /** Reads the blob's bytes back into {@code target} (exactly its size). */
  void read(long id, MemorySegment target) throws IOException;

  /**
   * Exchanges a spilled blob with a resident one when neither memory nor the spill directory has
   * room for the other: afterwards the first {@code spilledSize} bytes of {@code residentBytes} hold
   * the spilled blob, and the resident blob's bytes (all of {@code residentBytes} as they were) are
   * spilled under {@code residentId}, in the space the other one's file took (plus what the
   * resident blob has more). On failure nothing has changed.
   *
   * @throws IOException when it cannot (this spiller does not swap, or the resident blob is larger
   *     and the extra bytes do not fit)
   */
  default void swap(long spilledId, long spilledSize, long residentId, MemorySegment residentBytes) throws IOException {
    throw new IOException(describe() + " cannot exchange blobs in place");
  }

  /** A blob of a window given to {@link #swapRun}: {@code size} bytes at {@code offset} in it. */
  record Piece(long id, long offset, long size) {}

  /**
   * As {@link #swap}, with a window of memory that holds several resident blobs (and free space):
   * afterwards its first {@code spilledSize} bytes hold the spilled blob, and each piece's bytes (as
   * they were) are spilled under its id, in the space the spilled blob took (plus what the window
   * has more). On failure nothing has changed.
   *
   * @throws IOException when it cannot
   */
  default void swapRun(long spilledId, long spilledSize, MemorySegment window, java.util.List<Piece> pieces) throws IOException {
    throw new IOException(describe() + " cannot exchange blobs in place");
  }

  /** Forgets a spilled blob (after it was loaded back, or deleted). Best effort. */
  void delete(long id);

  /** Where the spilled bytes are, for messages. */
  String describe();
}
