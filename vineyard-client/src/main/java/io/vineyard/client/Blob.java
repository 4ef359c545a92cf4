package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * A sealed blob held by this client: a read-only view of the daemon's shared memory, no copy.
 *
 * <p>While a {@code Blob} is open the daemon keeps the bytes where they are (the blob is pinned);
 * closing it releases the pin. Arrow buffers made with {@link #toArrowBuf} keep the pin too, until
 * the last of them is released. {@link #segment()} fails once the blob is closed; a segment obtained
 * earlier stays mapped until the client closes (reading it then fails with an
 * {@link IllegalStateException}, never a crash), but after release the daemon may reuse its bytes
 * for other blobs, so do not keep it past {@code close()}.
 *
 * <p>The view is a slice of the client's one mapping of the region: getting a blob creates no
 * mapping and no memory session of its own, so it costs the same for any size.
 */
public final class Blob implements AutoCloseable {

  private final IpcClient client;
  private final ObjectId id;
  private final long size;
  private final long address;
  private final MemorySegment segment;
  private final AtomicInteger refs = new AtomicInteger(1);
  private final AtomicBoolean closed = new AtomicBoolean();

  Blob(IpcClient client, ObjectId id, MemorySegment region, long offset, long size) {
    this.client = client;
    this.id = id;
    this.size = size;
    this.segment = region.asSlice(offset, size).asReadOnly();
    this.address = segment.address();
  }

  public ObjectId id() {
    return id;
  }

  /** The blob's size in bytes. */
  public long size() {
    return size;
  }

  /** The blob's bytes, read-only, in shared memory. */
  public MemorySegment segment() {
    if (closed.get()) {
      throw new IllegalStateException("blob " + id + " is closed");
    }
    return segment;
  }

  /**
   * The blob's bytes as an Arrow buffer accounted to {@code allocator}, with no copy. The buffer
   * keeps the blob pinned until it is released. The memory is mapped read-only: writing through the
   * buffer crashes the process, as writing to any read-only mapping does.
   */
  public ArrowBuf toArrowBuf(BufferAllocator allocator) {
    retain();
    try {
      return allocator.wrapForeignAllocation(
          new ForeignAllocation(size, address) {
            @Override
            protected void release0() {
              unref();
            }
          });
    } catch (RuntimeException e) {
      unref();
      throw e;
    }
  }

  private void retain() {
    while (true) {
      int r = refs.get();
      if (r == 0 || closed.get()) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob " + id + " is closed");
      }
      if (refs.compareAndSet(r, r + 1)) {
        return;
      }
    }
  }

  private void unref() {
    if (refs.decrementAndGet() == 0) {
      client.released(this);
    }
  }

  /** Whether Arrow buffers made from this blob are still live. */
  boolean hasArrowReferences() {
    return refs.get() > (closed.get() ? 0 : 1);
  }

  /** Marks the handle closed at client shutdown (the daemon drops the pin with the connection). */
  void invalidate() {
    closed.set(true);
  }

  /** Releases this handle's pin (once the Arrow buffers made from it are released, too). */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      unref();
    }
  }

  @Override
  public String toString() {
    return "Blob{" + id + ", " + size + " bytes" + (closed.get() ? ", closed" : "") + "}";
  }
}
