package io.vineyard.server.memory;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.VineyardException;
import io.vineyard.internal.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shared-memory region: a file on tmpfs in the daemon's private directory, mapped once by the
 * daemon and, through its descriptor passed over the socket, by every client. Clients need no
 * permission on the file. Owned by a {@link MemoryArena}; nothing else creates or closes regions.
 */
final class SharedMemory implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SharedMemory.class);

  private final Path file;
  private final int fd;
  /** The same file opened read-only: what clients that only read are given. */
  private final int readOnlyFd;
  private final long size;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment mapping;
  private boolean closed;

  private SharedMemory(Path file, int fd, int readOnlyFd, long size, boolean populate) {
    this.file = file;
    this.fd = fd;
    this.readOnlyFd = readOnlyFd;
    this.size = size;
    try {
      this.mapping = Libc.map(fd, size, true, populate, arena);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  /**
   * Creates and maps {@code file} of {@code size} bytes.
   *
   * @param reserve allocate every page now (fails at start, not later, when tmpfs is too small) and
   *     pre-fault the daemon's mapping, so the first writers do not pay page faults
   */
  static SharedMemory create(Path file, long size, boolean reserve) {
    if (size <= 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "shared memory size must be positive: " + size);
    }
    long usable = usableSpace(file.getParent());
    if (!reserve && usable >= 0 && usable < size) {
      LOG.warn(
          "{} has {} free but the region is {}: writers may fail once it fills; use --reserve-memory to reserve it now",
          file.getParent(), MemorySize.format(usable), MemorySize.format(size));
    }
    int fd = Libc.openFile(file.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL, 0600);
    try {
      if (Libc.ftruncate(fd, size) != 0) {
        throw new VineyardException(ErrorCode.IO_ERROR, "cannot size " + file + ": " + Libc.strerror(Libc.lastErrno()));
      }
      if (reserve && Libc.fallocate(fd, 0, 0, size) != 0) {
        int errno = Libc.lastErrno();
        throw new VineyardException(
            ErrorCode.OUT_OF_MEMORY,
            "cannot reserve " + MemorySize.format(size) + " in " + file.getParent() + ": " + Libc.strerror(errno));
      }
      int readOnlyFd = Libc.openFile(file.toString(), Libc.O_RDONLY, 0);
      try {
        return new SharedMemory(file, fd, readOnlyFd, size, reserve);
      } catch (RuntimeException e) {
        Libc.closeQuietly(readOnlyFd);
        throw e;
      }
    } catch (RuntimeException e) {
      Libc.closeQuietly(fd);
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // the directory goes with the arena
      }
      throw e;
    }
  }

  /** The read-write descriptor, for clients writing a blob in place. */
  int fd() {
    return fd;
  }

  /** A read-only descriptor of the same file: a mapping made from it cannot be written. */
  int readOnlyFd() {
    return readOnlyFd;
  }

  long size() {
    return size;
  }

  Path file() {
    return file;
  }

  /** The daemon's own read-write mapping of the whole region. */
  MemorySegment mapping() {
    return mapping;
  }

  private static long usableSpace(Path p) {
    try {
      return Files.getFileStore(p).getUsableSpace();
    } catch (IOException e) {
      return -1;
    }
  }

  /** Unmaps and closes the descriptor (the arena removes the files). */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    arena.close();
    Libc.closeQuietly(fd);
    Libc.closeQuietly(readOnlyFd);
  }
}
