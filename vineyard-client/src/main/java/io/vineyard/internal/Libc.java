package io.vineyard.internal;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few libc calls Vineyard needs, through the FFM API (no JNI): UNIX sockets with descriptor
 * passing, and mapping shared memory of any size. Linux on 64-bit x86 and ARM share the constants
 * and structure layouts used here.
 */
@SuppressWarnings("restricted") // this class is where Vineyard goes native
public final class Libc {

  public static final int AF_UNIX = 1;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_CLOEXEC = 0x80000;
  public static final int SOL_SOCKET = 1;
  public static final int SCM_RIGHTS = 1;
  public static final int SO_RCVTIMEO = 20;
  public static final int SO_SNDTIMEO = 21;
  public static final int MSG_NOSIGNAL = 0x4000;
  public static final int MSG_CMSG_CLOEXEC = 0x40000000;
  public static final int MSG_CTRUNC = 0x8;
  /** {@code shutdown(2)}: both directions. */
  public static final int SHUT_RDWR = 2;

  public static final int O_RDONLY = 0;
  public static final int O_WRONLY = 1;
  public static final int O_RDWR = 2;
  public static final int O_CREAT = 0100;
  public static final int O_EXCL = 0200;
  public static final int O_CLOEXEC = 02000000;

  public static final int PROT_READ = 1;
  public static final int PROT_WRITE = 2;
  public static final int MAP_SHARED = 1;
  public static final int MAP_POPULATE = 0x8000;
  public static final int MADV_POPULATE_READ = 22;
  public static final long PAGE_SIZE = 4096;

  public static final int EINTR = 4;
  public static final int EPIPE = 32;
  public static final int EINVAL = 22;
  public static final int ENOSYS = 38;
  public static final int EOVERFLOW = 75;
  public static final int EAGAIN = 11;
  public static final int ENOENT = 2;
  public static final int ECONNREFUSED = 111;

  /** {@code struct sockaddr_un}: family and a 108-byte path. */
  public static final int SOCKADDR_UN_SIZE = 110;

  public static final int SUN_PATH_MAX = 108;

  /** {@code struct msghdr} on LP64 Linux. */
  public static final StructLayout MSGHDR =
      MemoryLayout.structLayout(
          ValueLayout.ADDRESS.withName("msg_name"),
          ValueLayout.JAVA_INT.withName("msg_namelen"),
          MemoryLayout.paddingLayout(4),
          ValueLayout.ADDRESS.withName("msg_iov"),
          ValueLayout.JAVA_LONG.withName("msg_iovlen"),
          ValueLayout.ADDRESS.withName("msg_control"),
          ValueLayout.JAVA_LONG.withName("msg_controllen"),
          ValueLayout.JAVA_INT.withName("msg_flags"),
          MemoryLayout.paddingLayout(4));

  /** {@code struct iovec}. */
  public static final StructLayout IOVEC =
      MemoryLayout.structLayout(
          ValueLayout.ADDRESS.withName("iov_base"), ValueLayout.JAVA_LONG.withName("iov_len"));

  /** Size of {@code struct cmsghdr} (len, level, type) before its data. */
  public static final int CMSGHDR_SIZE = 16;

  static final VarHandle MSG_IOV = MSGHDR.varHandle(MemoryLayout.PathElement.groupElement("msg_iov"));
  static final VarHandle MSG_IOVLEN = MSGHDR.varHandle(MemoryLayout.PathElement.groupElement("msg_iovlen"));
  static final VarHandle MSG_CONTROL = MSGHDR.varHandle(MemoryLayout.PathElement.groupElement("msg_control"));
  static final VarHandle MSG_CONTROLLEN =
      MSGHDR.varHandle(MemoryLayout.PathElement.groupElement("msg_controllen"));
  static final VarHandle MSG_FLAGS = MSGHDR.varHandle(MemoryLayout.PathElement.groupElement("msg_flags"));
  static final VarHandle IOV_BASE = IOVEC.varHandle(MemoryLayout.PathElement.groupElement("iov_base"));
  static final VarHandle IOV_LEN = IOVEC.varHandle(MemoryLayout.PathElement.groupElement("iov_len"));

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  // Each function is linked on first use, through a holder class of its own: linking a downcall costs
  // milliseconds at start-up, and a short-lived command (vineyardctl) uses few of them.
  private static final class Socket {
    static final MethodHandle H =
        downcall("socket", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  }
  private static final class Connect {
    static final MethodHandle H =
        downcall("connect", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  }
  private static final class Send {
    static final MethodHandle H =
        downcall("send", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
  }
  private static final class Recvmsg {
    static final MethodHandle H =
        downcall("recvmsg", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  }
  private static final class Setsockopt {
    static final MethodHandle H =
        downcall("setsockopt", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  }
  private static final class Shutdown {
    static final MethodHandle H =
        downcall("shutdown", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  }
  private static final class Close {
    static final MethodHandle H =
        downcall("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  }
  private static final class Open {
    static final MethodHandle H =
        downcall("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  }
  private static final class Ftruncate {
    static final MethodHandle H =
        downcall("ftruncate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
  }
  private static final class Fallocate {
    static final MethodHandle H =
        downcall("fallocate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
  }
  private static final class Mmap {
    static final MethodHandle H =
        downcall("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
  }
  private static final class Sendfile {
    static final MethodHandle H =
        downcall("sendfile", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
  }
  private static final class Write {
    static final MethodHandle H =
        downcall("write", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
  }
  private static final class Madvise {
    static final MethodHandle H =
        downcall("madvise", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
  }
  private static final class Munmap {
    static final MethodHandle H =
        downcall("munmap", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
  }
  private static final class Isatty {
    static final MethodHandle H =
        LINKER.downcallHandle(
          LIBC.find("isatty").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  }
  private static final class Strerror {
    static final MethodHandle H =
        LINKER.downcallHandle(
          LIBC.find("strerror").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  }

  private Libc() {}

  private static MethodHandle downcall(String name, FunctionDescriptor fd) {
    MemorySegment symbol =
        LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    // Every call captures errno; the handle takes the capture segment as its first argument.
    return LINKER.downcallHandle(symbol, fd, CAPTURE_ERRNO);
  }

  /** A per-thread buffer for errno captured by the last call on this thread. */
  private static final ThreadLocal<MemorySegment> STATE =
      ThreadLocal.withInitial(() -> Arena.global().allocate(CALL_STATE));

  private static MemorySegment state() {
    return STATE.get();
  }

  /** errno captured by this thread's last call through this class. */
  public static int lastErrno() {
    return (int) ERRNO.get(state(), 0L);
  }

  /** Whether the descriptor is a terminal (e.g. {@code isatty(2)} for stderr). */
  public static boolean isatty(int fd) {
    try {
      return (int) Isatty.H.invokeExact(fd) == 1;
    } catch (Throwable t) {
      return false;
    }
  }

  /** The text of an errno value. */
  public static String strerror(int errno) {
    try {
      MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errno);
      return s.reinterpret(256).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new VineyardException(ErrorCode.INTERNAL, "native call failed", t);
  }

  public static int socket(int domain, int type, int protocol) {
    try {
      return (int) Socket.H.invokeExact(state(), domain, type, protocol);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int connect(int fd, MemorySegment addr, int len) {
    try {
      return (int) Connect.H.invokeExact(state(), fd, addr, len);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long send(int fd, MemorySegment buf, long len, int flags) {
    try {
      return (long) Send.H.invokeExact(state(), fd, buf, len, flags);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long recvmsg(int fd, MemorySegment msghdr, int flags) {
    try {
      return (long) Recvmsg.H.invokeExact(state(), fd, msghdr, flags);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int setsockopt(int fd, int level, int name, MemorySegment value, int len) {
    try {
      return (int) Setsockopt.H.invokeExact(state(), fd, level, name, value, len);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Shuts a socket down without closing its descriptor: a thread blocked in {@code recvmsg} or
   * {@code send} on it returns at once (end of stream, or {@code EPIPE}), and the descriptor number
   * stays reserved until {@link #close}, so it cannot be reused under that thread.
   */
  public static int shutdown(int fd, int how) {
    try {
      return (int) Shutdown.H.invokeExact(state(), fd, how);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int close(int fd) {
    try {
      return (int) Close.H.invokeExact(state(), fd);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int open(MemorySegment path, int flags, int mode) {
    try {
      return (int) Open.H.invokeExact(state(), path, flags, mode);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int ftruncate(int fd, long length) {
    try {
      return (int) Ftruncate.H.invokeExact(state(), fd, length);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * glibc's {@code malloc_trim(0)}: gives the free memory of malloc's heaps back to the system (the
   * JVM's own native allocations go through malloc). False where the libc has none (musl).
   */
  public static boolean mallocTrim() {
    MethodHandle h = MallocTrim.H;
    if (h == null) {
      return false;
    }
    try {
      return (int) h.invokeExact(state(), 0L) == 1;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static final class MallocTrim {
    static final MethodHandle H = LIBC.find("malloc_trim")
        .map(symbol -> LINKER.downcallHandle(symbol, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), CAPTURE_ERRNO))
        .orElse(null);
  }

  public static int fallocate(int fd, int mode, long offset, long length) {
    try {
      return (int) Fallocate.H.invokeExact(state(), fd, mode, offset, length);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Returns the mapped address, or {@code -1} (MAP_FAILED) with errno set. */
  public static long mmap(long length, int prot, int flags, int fd, long offset) {
    try {
      MemorySegment r = (MemorySegment) Mmap.H.invokeExact(state(), MemorySegment.NULL, length, prot, flags, fd, offset);
      return r.address();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Copies {@code count} bytes at {@code offset} of {@code inFd} to {@code outFd} inside the kernel.
   *
   * @return bytes copied (possibly fewer), or -1 with errno set
   */
  public static long sendfile(int outFd, int inFd, long offset, long count) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment off = a.allocate(ValueLayout.JAVA_LONG);
      off.set(ValueLayout.JAVA_LONG, 0, offset);
      return (long) Sendfile.H.invokeExact(state(), outFd, inFd, off, count);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Writes up to {@code seg.byteSize()} bytes of {@code seg} to {@code fd}.
   *
   * @return bytes written (possibly fewer), or -1 with errno set
   */
  public static long write(int fd, MemorySegment seg) {
    try {
      return (long) Write.H.invokeExact(state(), fd, seg, seg.byteSize());
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Maps every page of {@code seg} into this process's page tables now, in one call, instead of one
   * fault per page later ({@code MADV_POPULATE_READ}, Linux 5.14+). Best effort: returns false when
   * the kernel cannot.
   */
  public static boolean populateRead(MemorySegment seg) {
    if (seg.byteSize() == 0) {
      return true;
    }
    long start = seg.address() & -PAGE_SIZE;
    long end = seg.address() + seg.byteSize();
    try {
      return (int) Madvise.H.invokeExact(state(), MemorySegment.ofAddress(start), end - start, MADV_POPULATE_READ) == 0;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int munmap(long address, long length) {
    try {
      return (int) Munmap.H.invokeExact(state(), MemorySegment.ofAddress(address), length);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Maps {@code length} bytes of {@code fd} from offset 0, shared, and returns a segment of that size
   * whose arena unmaps it when closed.
   *
   * @param writable map read-write (else read-only: writes through it fault in the kernel, and the
   *     returned segment is read-only in Java too)
   * @param populate pre-fault every page now (MAP_POPULATE)
   */
  public static MemorySegment map(int fd, long length, boolean writable, boolean populate, Arena arena) {
    int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
    int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
    long addr = mmap(length, prot, flags, fd, 0);
    if (addr == -1L) {
      int errno = lastErrno();
      throw new VineyardException(
          errno == 12 ? ErrorCode.OUT_OF_MEMORY : ErrorCode.IO_ERROR,
          "mmap of " + length + " bytes failed: " + strerror(errno));
    }
    MemorySegment seg = MemorySegment.ofAddress(addr).reinterpret(length, arena, s -> munmap(addr, length));
    return writable ? seg : seg.asReadOnly();
  }

  /** Opens a file and returns its descriptor, failing with a clear error. */
  public static int openFile(String path, int flags, int mode) {
    try (Arena a = Arena.ofConfined()) {
      int fd = open(a.allocateFrom(path), flags | O_CLOEXEC, mode);
      if (fd < 0) {
        int errno = lastErrno();
        throw new VineyardException(ErrorCode.IO_ERROR, "cannot open " + path + ": " + strerror(errno));
      }
      return fd;
    }
  }

  /** Closes a descriptor, ignoring errors (closing is best effort and must not throw). */
  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      close(fd);
    }
  }
}
