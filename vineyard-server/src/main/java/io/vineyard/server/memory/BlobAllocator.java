package io.vineyard.server.memory;

import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Hands out byte ranges of a fixed-size arena: best fit over a free list that coalesces neighbours
 * on free, so freed space is reused (its pages are already resident: reusing them is ~30x cheaper
 * than faulting in fresh tmpfs pages) and fragmentation heals as blobs go.
 *
 * <p>Offsets and sizes are multiples of {@link #ALIGNMENT}, which suits Arrow buffers. Allocation
 * and free are O(log n) in the number of free ranges. Not thread-safe: the store serializes calls.
 */
public final class BlobAllocator {

  /** Alignment of every range, in bytes (Arrow recommends 64). */
  public static final long ALIGNMENT = 64;

  private record Range(long offset, long size) {}

  private static final Comparator<Range> BY_SIZE_THEN_OFFSET =
      Comparator.comparingLong(Range::size).thenComparingLong(Range::offset);

  private final long capacity;
  private final TreeMap<Long, Long> freeByOffset = new TreeMap<>();
  private final TreeSet<Range> freeBySize = new TreeSet<>(BY_SIZE_THEN_OFFSET);
  /** Written under the store's lock; read without it (memory figures for the heartbeat). */
  private volatile long used;

  /** An allocator over {@code [0, capacity)}, rounded down to the alignment. */
  public BlobAllocator(long capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException("capacity must not be negative: " + capacity);
    }
    this.capacity = capacity - capacity % ALIGNMENT;
    if (this.capacity > 0) {
      addFree(0, this.capacity);
    }
  }

  /** Bytes a request of {@code size} occupies: rounded up to the alignment (at least one unit). */
  public static long footprint(long size) {
    long s = Math.max(size, 1);
    return (s + ALIGNMENT - 1) & -ALIGNMENT;
  }

  /**
   * Allocates {@code size} bytes.
   *
   * @return the offset, or {@code -1} when no free range is large enough
   */
  public long allocate(long size) {
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative: " + size);
    }
    if (size > capacity) {
      return -1;
    }
    long need = footprint(size);
    Range fit = freeBySize.ceiling(new Range(Long.MIN_VALUE, need));
    if (fit == null) {
      return -1;
    }
    removeFree(fit);
    if (fit.size > need) {
      addFree(fit.offset + need, fit.size - need);
    }
    used += need;
    return fit.offset;
  }

  /**
   * Takes {@code [offset, offset + footprint(size))} if all of it is free (for an exchange that
   * needs a given place); otherwise takes nothing.
   *
   * @return whether it was taken
   */
  public boolean claim(long offset, long size) {
    long len = footprint(size);
    if (offset < 0 || offset % ALIGNMENT != 0 || offset + len > capacity) {
      return false;
    }
    Map.Entry<Long, Long> f = freeByOffset.floorEntry(offset);
    if (f == null || f.getKey() + f.getValue() < offset + len) {
      return false;
    }
    long start = f.getKey();
    long end = start + f.getValue();
    removeFree(new Range(start, f.getValue()));
    if (start < offset) {
      addFree(start, offset - start);
    }
    if (end > offset + len) {
      addFree(offset + len, end - offset - len);
    }
    used += len;
    return true;
  }

  /** Frees a range returned by {@link #allocate} for a request of {@code size} bytes. */
  public void free(long offset, long size) {
    long len = footprint(size);
    if (offset < 0 || offset + len > capacity || offset % ALIGNMENT != 0) {
      throw new IllegalArgumentException("not an allocated range: [" + offset + ", +" + len + ")");
    }
    Map.Entry<Long, Long> before = freeByOffset.floorEntry(offset);
    if (before != null && before.getKey() + before.getValue() > offset) {
      throw new IllegalStateException("double free of [" + offset + ", +" + len + ")");
    }
    Map.Entry<Long, Long> after = freeByOffset.ceilingEntry(offset);
    if (after != null && after.getKey() < offset + len) {
      throw new IllegalStateException("double free of [" + offset + ", +" + len + ")");
    }
    used -= len;
    long start = offset;
    long end = offset + len;
    if (before != null && before.getKey() + before.getValue() == offset) {
      removeFree(new Range(before.getKey(), before.getValue()));
      start = before.getKey();
    }
    if (after != null && after.getKey() == end) {
      removeFree(new Range(after.getKey(), after.getValue()));
      end = after.getKey() + after.getValue();
    }
    addFree(start, end - start);
  }

  private void addFree(long offset, long size) {
    freeByOffset.put(offset, size);
    freeBySize.add(new Range(offset, size));
  }

  private void removeFree(Range r) {
    freeByOffset.remove(r.offset);
    freeBySize.remove(r);
  }

  public long capacity() {
    return capacity;
  }

  /** Bytes handed out, alignment included. */
  public long used() {
    return used;
  }

  public long free() {
    return capacity - used;
  }

  /** The largest single request that would succeed now. */
  public long largestFree() {
    return freeBySize.isEmpty() ? 0 : freeBySize.last().size;
  }

  /**
   * The first free range that ends after {@code from}, as {@code {offset, size}}, or null when
   * there is none.
   */
  public long[] freeRangeEndingAfter(long from) {
    Map.Entry<Long, Long> e = freeByOffset.floorEntry(from);
    if (e == null || e.getKey() + e.getValue() <= from) {
      e = freeByOffset.higherEntry(from);
    }
    return e == null ? null : new long[] {e.getKey(), e.getValue()};
  }

  /** Number of separate free ranges (1 when nothing is fragmented). */
  public int freeRangeCount() {
    return freeByOffset.size();
  }
}
