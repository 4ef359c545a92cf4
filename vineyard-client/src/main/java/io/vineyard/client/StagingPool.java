package io.vineyard.client;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * Reuses the local memory that small blobs are staged in until sealed (see {@link BlobWriter}).
 * Allocating it afresh for every blob costs a {@code malloc}, a cleaner registration and, once the
 * GC frees it on another thread, page faults on fresh pages: more than the blob's whole round trip
 * on a busy client. Buffers come in powers of two from 64 bytes to {@link IpcClient#INLINE_LIMIT};
 * each size keeps a few free ones (about 1.5 MiB for all sizes together) and drops the rest to the
 * GC. A buffer is handed out zero-filled, as fresh memory would be. Thread-safe.
 */
final class StagingPool {

  private static final int MIN_SHIFT = 6;
  private static final int MAX_SHIFT = Long.numberOfTrailingZeros(IpcClient.INLINE_LIMIT);
  /** Free buffers kept per size: 256 KiB worth, at least 4 and at most 64. */
  private static final long BYTES_PER_CLASS = 256 << 10;

  private final ArrayDeque<MemorySegment>[] free;

  @SuppressWarnings({"unchecked", "rawtypes"})
  StagingPool() {
    free = new ArrayDeque[MAX_SHIFT + 1];
    for (int k = MIN_SHIFT; k <= MAX_SHIFT; k++) {
      free[k] = new ArrayDeque<>();
    }
  }

  /** A zero-filled buffer of at least {@code size} bytes (1 to {@link IpcClient#INLINE_LIMIT}), 64-byte aligned. */
  MemorySegment take(long size) {
    int k = shift(size);
    MemorySegment b;
    synchronized (free[k]) {
      b = free[k].pollFirst();
    }
    if (b == null) {
      // Its own arena: the GC frees it when the pool drops it and nothing else refers to it.
      return Arena.ofAuto().allocate(1L << k, 64);
    }
    b.fill((byte) 0);
    return b;
  }

  /** Gives back a buffer from {@link #take}; nothing may use it afterwards. */
  void give(MemorySegment buffer) {
    int k = Long.numberOfTrailingZeros(buffer.byteSize());
    int cap = Math.clamp(BYTES_PER_CLASS >> k, 4, 64);
    synchronized (free[k]) {
      if (free[k].size() < cap) {
        free[k].addFirst(buffer);
      }
    }
  }

  private static int shift(long size) {
    if (size <= 0 || size > IpcClient.INLINE_LIMIT) {
      throw new IllegalArgumentException("not a staged size: " + size);
    }
    return Math.max(MIN_SHIFT, 64 - Long.numberOfLeadingZeros(size - 1));
  }
}
