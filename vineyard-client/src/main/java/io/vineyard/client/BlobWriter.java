package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import java.lang.foreign.MemorySegment;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * A blob being written: a writable view of freshly allocated shared memory. Fill it through
 * {@link #segment()} (or an Arrow buffer from {@link #toArrowBuf}), then {@link #seal()} it; from
 * then on it is immutable and readable by every client. Closing an unsealed writer aborts the blob
 * and frees its memory; so does the daemon if this client disconnects or dies first.
 */
public final class BlobWriter implements AutoCloseable {

  private enum State { OPEN, SEALED, ABORTED }

  private final IpcClient client;
  private final ObjectId id;
  private final long size;
  private final long address;
  private final MemorySegment segment;
  private State state = State.OPEN;
  private int arrowRefs;
  private boolean pinnedAfterSeal;

  BlobWriter(IpcClient client, ObjectId id, MemorySegment region, long offset, long size) {
    this.client = client;
    this.id = id;
    this.size = size;
    this.segment = region.asSlice(offset, size);
    this.address = segment.address();
  }

  public ObjectId id() {
    return id;
  }

  public long size() {
    return size;
  }

  /** The blob's memory, writable until sealed. */
  public synchronized MemorySegment segment() {
    if (state != State.OPEN) {
      throw new IllegalStateException("blob " + id + " is " + state.name().toLowerCase(java.util.Locale.ROOT));
    }
    return segment;
  }

  /**
   * The blob's memory as an Arrow buffer accounted to {@code allocator}, with no copy. Write before
   * sealing; the buffer keeps the blob pinned until released, also after sealing.
   */
  public synchronized ArrowBuf toArrowBuf(BufferAllocator allocator) {
    if (state != State.OPEN) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob " + id + " is no longer open for writing");
    }
    arrowRefs++;
    try {
      return allocator.wrapForeignAllocation(
          new ForeignAllocation(size, address) {
            @Override
            protected void release0() {
              arrowReleased();
            }
          });
    } catch (RuntimeException e) {
      arrowRefs--;
      throw e;
    }
  }

  private synchronized void arrowReleased() {
    arrowRefs--;
    if (arrowRefs == 0 && pinnedAfterSeal) {
      pinnedAfterSeal = false;
      client.releaseSealed(id);
    }
  }

  /**
   * Seals the blob: its bytes become immutable and visible to every client.
   *
   * @return the blob's id
   * @throws VineyardException {@link ErrorCode#ALREADY_SEALED} when sealed before
   */
  public synchronized ObjectId seal() {
    if (state == State.SEALED) {
      throw new VineyardException(ErrorCode.ALREADY_SEALED, "blob " + id + " is already sealed");
    }
    if (state == State.ABORTED) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "blob " + id + " was aborted");
    }
    boolean keepPinned = arrowRefs > 0;
    client.seal(id, keepPinned);
    state = State.SEALED;
    pinnedAfterSeal = keepPinned;
    client.writerDone(this);
    return id;
  }

  public synchronized boolean isSealed() {
    return state == State.SEALED;
  }

  /** Called at client shutdown: the daemon reclaims the unsealed blob with the connection. */
  synchronized void invalidate() {
    if (state == State.OPEN) {
      state = State.ABORTED;
    }
  }

  synchronized boolean hasArrowReferences() {
    return arrowRefs > 0;
  }

  /** Aborts the blob unless it was sealed. */
  @Override
  public synchronized void close() {
    if (state != State.OPEN) {
      return;
    }
    state = State.ABORTED;
    client.writerDone(this);
    client.abort(id);
  }

  @Override
  public String toString() {
    return "BlobWriter{" + id + ", " + size + " bytes, " + state + "}";
  }
}
