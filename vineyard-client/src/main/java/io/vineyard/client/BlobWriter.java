package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import java.lang.foreign.MemorySegment;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * A blob being written. Fill it through {@link #segment()} (or an Arrow buffer from
 * {@link #toArrowBuf}), then {@link #seal()} it: from then on it is immutable and readable by every
 * client, and {@code seal()} returns only once that is so. Closing an unsealed writer aborts the
 * blob; so does the daemon if this client disconnects or dies first.
 *
 * <p>Large blobs are written in place, in the daemon's shared memory. Small ones (up to
 * {@link IpcClient#INLINE_LIMIT}) are written to local memory and travel with the seal, which
 * creates and seals them in one round trip; asking for {@link #id()} before sealing reserves the
 * blob in the daemon first (one more round trip). Either way, what was written before
 * {@code seal()} is what gets sealed.
 *
 * <p>{@link #segment()} fails once the writer is sealed or closed. Do not use a segment obtained
 * earlier after sealing or closing: for large blobs other processes may already be reading it, and a
 * small blob's staging memory is reused for the client's next small blob (read a sealed blob through
 * {@link IpcClient#getBlob}). An Arrow buffer from {@link #toArrowBuf} stays valid until released.
 * Several writers are sealed in one round trip with {@link IpcClient#seal(java.util.Collection)}.
 *
 * <p>Threads: a writer is meant to be filled and sealed by one thread at a time (writes to its
 * segment are plain memory writes, with no ordering against another thread's {@code seal()}; hand a
 * writer to another thread the way any mutable object is handed over). Its methods are
 * synchronized, so calling them from several threads does not corrupt it: {@link #close()} is
 * idempotent and safe from any thread (it aborts the blob unless it was sealed), and a {@code
 * seal()} racing a {@code close()} either seals the blob or finds it aborted.
 */
public final class BlobWriter implements AutoCloseable {

  private enum State { OPEN, SEALED, ABORTED }

  private final IpcClient client;
  private final long size;
  /** Where the caller writes: the blob itself, or local staging memory for small blobs. */
  private final MemorySegment segment;
  private final boolean staged;
  /** For a staged blob: the pooled buffer {@link #segment} is a slice of, until given back. */
  private MemorySegment staging;
  /** Null while a staged blob is not reserved in the daemon yet. */
  private ObjectId id;
  /** For a staged blob reserved by {@link #id()}: its bytes in shared memory. */
  private MemorySegment reserved;
  private State state = State.OPEN;
  private int arrowRefs;
  /** Between {@link #planSeal} and {@link #planDone}: a batch seal may still read the staging memory. */
  private boolean inBatch;
  private boolean pinnedAfterSeal;

  /** A blob allocated in the daemon, written in place. */
  BlobWriter(IpcClient client, ObjectId id, MemorySegment region, long offset, long size) {
    this.client = client;
    this.id = id;
    this.size = size;
    this.segment = region.asSlice(offset, size);
    this.staged = false;
  }

  /** A small blob staged in local memory (from the client's pool) until sealed. */
  BlobWriter(IpcClient client, long size) {
    this.client = client;
    this.size = size;
    this.staging = client.staging().take(size);
    this.segment = staging.asSlice(0, size);
    this.staged = true;
  }

  /** Gives the staging memory back to the pool once sealed or aborted and no Arrow buffer uses it. */
  private void recycle() {
    if (staging != null && state != State.OPEN && arrowRefs == 0 && !inBatch) {
      client.staging().give(staging);
      staging = null;
    }
  }

  /**
   * The blob's id. For a small blob that is not sealed yet this reserves it in the daemon, where it
   * shows as unsealed until {@link #seal()}.
   */
  public synchronized ObjectId id() {
    if (id == null) {
      if (state != State.OPEN) {
        throw new VineyardException(
            ErrorCode.ILLEGAL_STATE, "blob was " + state.name().toLowerCase(java.util.Locale.ROOT) + " before it had an id");
      }
      IpcClient.Reservation r = client.reserve(size);
      id = r.id();
      reserved = r.segment();
    }
    return id;
  }

  public long size() {
    return size;
  }

  /** The memory to write, until sealed. */
  public synchronized MemorySegment segment() {
    if (state != State.OPEN) {
      throw new VineyardException(
          ErrorCode.ILLEGAL_STATE, "blob " + describe() + " is " + state.name().toLowerCase(java.util.Locale.ROOT));
    }
    return segment;
  }

  /**
   * The memory to write as an Arrow buffer accounted to {@code allocator}, with no copy. Write before
   * sealing; the buffer stays valid until released, also after sealing.
   */
  public synchronized ArrowBuf toArrowBuf(BufferAllocator allocator) {
    if (state != State.OPEN) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob " + describe() + " is no longer open for writing");
    }
    arrowRefs++;
    MemorySegment memory = segment;
    try {
      return allocator.wrapForeignAllocation(
          new ForeignAllocation(size, memory.address()) {
            // Keeps staging memory reachable while the buffer lives.
            @SuppressWarnings("unused")
            private final MemorySegment keepAlive = memory;

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
    recycle();
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
    checkSealable();
    if (!staged) {
      // Arrow buffers over shared memory keep the blob pinned until they are released.
      boolean keepPinned = arrowRefs > 0;
      client.seal(id, keepPinned);
      pinnedAfterSeal = keepPinned;
    } else if (reserved != null) {
      MemorySegment.copy(segment, 0, reserved, 0, size);
      client.seal(id, false);
    } else {
      id = client.createSealed(segment);
    }
    state = State.SEALED;
    client.writerDone(this);
    recycle();
    return id;
  }

  /** What sealing this writer in a batch takes: its id (in place), or its bytes (staged, no id yet). */
  record SealPlan(ObjectId id, MemorySegment inlineData, boolean keepPinned) {}

  IpcClient client() {
    return client;
  }

  /** For a batch seal: checks the writer can be sealed and says how; changes nothing visible. */
  synchronized SealPlan planSeal() {
    checkSealable();
    if (!staged) {
      return new SealPlan(id, null, arrowRefs > 0);
    }
    if (reserved != null) {
      MemorySegment.copy(segment, 0, reserved, 0, size);
      return new SealPlan(id, null, false);
    }
    inBatch = true;
    return new SealPlan(null, segment, false);
  }

  /** The batch seal that planned this writer is over (sealed or not): its staging memory is free to recycle. */
  synchronized void planDone() {
    inBatch = false;
    recycle();
  }

  /** For a batch seal that succeeded: the writer is sealed as {@code sealedId}. */
  synchronized void sealedAs(ObjectId sealedId, boolean pinned) {
    id = sealedId;
    pinnedAfterSeal = pinned;
    state = State.SEALED;
    client.writerDone(this);
    recycle();
  }

  private void checkSealable() {
    if (state == State.SEALED) {
      throw new VineyardException(ErrorCode.ALREADY_SEALED, "blob " + describe() + " is already sealed");
    }
    if (state == State.ABORTED) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "blob " + describe() + " was aborted");
    }
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

  /** Whether Arrow buffers over shared memory are still live (staging memory is the GC's). */
  synchronized boolean hasArrowReferences() {
    return arrowRefs > 0 && !staged;
  }

  /** Aborts the blob unless it was sealed. */
  @Override
  public synchronized void close() {
    if (state != State.OPEN) {
      return;
    }
    state = State.ABORTED;
    client.writerDone(this);
    recycle();
    if (id != null) {
      client.abort(id);
    }
  }

  private String describe() {
    return id != null ? id.toString() : "(" + size + " bytes, not created yet)";
  }

  @Override
  public String toString() {
    return "BlobWriter{" + describe() + ", " + size + " bytes, " + state + "}";
  }
}
