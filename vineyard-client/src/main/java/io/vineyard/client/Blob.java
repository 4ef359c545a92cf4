package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.internal.Libc;
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
 * earlier stays mapped until the client closes (reading it then fails with the FFM API's
 * {@link IllegalStateException}, never a crash), but after release the daemon may reuse its bytes
 * for other blobs, so do not keep it past {@code close()}.
 *
 * <p>Threads: a {@code Blob} is immutable apart from its reference count and may be shared freely;
 * {@link #close()} is idempotent and safe from any thread (the first call releases the handle's pin;
 * the release is one message, never held up by another thread's call in flight), as is releasing
 * its Arrow buffers. Reading the segment while another thread closes the blob is the caller's race:
 * the bytes stay mapped but the daemon may reuse them.
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

  /** The region's descriptor and the blob's offset in it (for in-kernel copies); -1 for empty blobs. */
  private final int regionFd;
  private final long offset;

  Blob(IpcClient client, ObjectId id, MemorySegment region, int regionFd, long offset, long size) {
    this.client = client;
    this.id = id;
    this.size = size;
    this.regionFd = regionFd;
    this.offset = offset;
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
      throw new VineyardException(ErrorCode.ILLEGAL_STATE, "blob " + id + " is closed");
    }
    return segment;
  }

  /**
   * Maps all of the blob's pages into this process now, in one batch, for a reader about to scan all
   * of it: cheaper than one page fault per 4 KiB on first touch. Optional and best effort.
   */
  public void prefault() {
    Libc.populateRead(segment());
  }

  /**
   * Copies the blob's bytes to an open file descriptor (a file, a pipe, a socket) inside the kernel,
   * with {@code sendfile(2)}: the pages go from the daemon's shared memory to the destination without
   * being mapped into this process or passing through the JVM, as {@code cp} does. Where the kernel
   * refuses (a terminal, for bytes past the first 2 GiB of the region: {@code EOVERFLOW}), the rest
   * is written from the mapping instead.
   *
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} when the kernel cannot do it for
   *     this destination (nothing was written then); write {@link #segment()} instead
   * @throws VineyardException {@link ErrorCode#IO_ERROR} when the destination fails (the message
   *     says why, e.g. "Broken pipe")
   */
  public void transferTo(int outFd) {
    transferTo(outFd, 0, size);
  }

  /** Like {@link #transferTo(int)}, for {@code length} bytes from {@code from} (to report progress). */
  public void transferTo(int outFd, long from, long length) {
    segment(); // fails once closed
    java.util.Objects.checkFromIndexSize(from, length, size);
    long done = 0;
    while (done < length) {
      long n = Libc.sendfile(outFd, regionFd, offset + from + done, Math.min(length - done, 1L << 30));
      if (n < 0) {
        int errno = Libc.lastErrno();
        if (errno == Libc.EINTR) {
          continue;
        }
        if (errno == Libc.EOVERFLOW) {
          // The kernel refuses input offsets past the destination file system's largest file size
          // (2 GiB for a terminal), whatever the destination's own position: write from the mapping.
          write(outFd, from + done, length - done);
          return;
        }
        if (done == 0 && (errno == Libc.EINVAL || errno == Libc.ENOSYS)) {
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT, "sendfile cannot write to this destination: " + Libc.strerror(errno));
        }
        throw new VineyardException(ErrorCode.IO_ERROR, "copying blob " + id + " failed: " + Libc.strerror(errno));
      }
      if (n == 0) {
        throw new VineyardException(ErrorCode.IO_ERROR, "copying blob " + id + " stopped after " + done + " bytes");
      }
      done += n;
    }
  }

  /** Writes bytes of the mapped blob to {@code outFd} with write(2). */
  private void write(int outFd, long from, long length) {
    MemorySegment bytes = segment();
    long done = 0;
    while (done < length) {
      long n = Libc.write(outFd, bytes.asSlice(from + done, Math.min(length - done, 1L << 30)));
      if (n < 0) {
        int errno = Libc.lastErrno();
        if (errno == Libc.EINTR) {
          continue;
        }
        throw new VineyardException(ErrorCode.IO_ERROR, "copying blob " + id + " failed: " + Libc.strerror(errno));
      }
      done += n;
    }
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
        throw new VineyardException(ErrorCode.ILLEGAL_STATE, "blob " + id + " is closed");
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
