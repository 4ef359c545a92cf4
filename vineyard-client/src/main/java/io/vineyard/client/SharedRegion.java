package io.vineyard.client;

import io.vineyard.internal.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A daemon shared-memory file as this client sees it: the descriptor received over the socket and
 * up to two mappings of it, made on first use and reused for every blob in the region: read-only
 * for reading sealed blobs, read-write for writing new ones.
 */
final class SharedRegion {

  final int id;
  final long size;
  private final int fd;
  private final Arena arena = Arena.ofShared();
  private MemorySegment readOnly;
  private MemorySegment readWrite;

  SharedRegion(int id, long size, int fd) {
    this.id = id;
    this.size = size;
    this.fd = fd;
  }

  /** Called with the client lock held. */
  MemorySegment readOnly() {
    if (readOnly == null) {
      readOnly = Libc.map(fd, size, false, false, arena);
    }
    return readOnly;
  }

  /** Called with the client lock held. */
  MemorySegment readWrite() {
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
