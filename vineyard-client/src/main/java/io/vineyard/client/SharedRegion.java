package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.internal.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A daemon shared-memory file as this client sees it through one descriptor received over the
 * socket, read-only (for reading sealed blobs) or read-write (for writing new ones in place), and its
 * mappings, made on first use and reused for every blob in the region. A client that reads and
 * writes in one region holds one of each.
 */
final class SharedRegion {

  final int id;
  final long size;
  private final int fd;
  private final boolean writable;
  private final Arena arena = Arena.ofShared();
  private MemorySegment readOnly;
  private MemorySegment readWrite;

  SharedRegion(int id, long size, int fd, boolean writable) {
    this.id = id;
    this.size = size;
    this.fd = fd;
    this.writable = writable;
  }

  /** Called with the client lock held. */
  MemorySegment readOnly() {
    if (readOnly == null) {
      readOnly = Libc.map(fd, size, false, false, arena);
    }
    return readOnly;
  }

  /** Called with the client lock held; only for a region received writable. */
  MemorySegment readWrite() {
    if (!writable) {
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "region " + id + " was received read-only");
    }
    if (readWrite == null) {
      readWrite = Libc.map(fd, size, true, false, arena);
    }
    return readWrite;
  }

  /** The region's descriptor, owned by this object. */
  int fd() {
    return fd;
  }

  /** Unmaps and closes the descriptor; every blob view must be closed first. */
  void close() {
    arena.close();
    Libc.closeQuietly(fd);
  }
}
