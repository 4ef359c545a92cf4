package io.vineyard.internal;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;

/** A socket through {@link Libc}: {@code send}, and {@code recvmsg} with descriptors ({@code SCM_RIGHTS}). */
final class NativeSocketIo implements SocketIo {

  private static final int MAX_FDS_PER_READ = 16;

  private final int fd;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment msghdr;
  private final MemorySegment iov;
  private final MemorySegment control;

  private NativeSocketIo(int fd) {
    this.fd = fd;
    this.msghdr = arena.allocate(Libc.MSGHDR);
    this.iov = arena.allocate(Libc.IOVEC);
    this.control = arena.allocate(Libc.CMSGHDR_SIZE + 4L * MAX_FDS_PER_READ, 8);
  }

  /**
   * Connects; sends block at most {@code timeout}, receives at most {@code tick}.
   *
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when nothing listens there
   */
  static NativeSocketIo connect(Path path, Duration timeout, Duration tick) {
    String p = path.toString();
    byte[] bytes = p.getBytes(StandardCharsets.UTF_8);
    int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw new VineyardException(ErrorCode.IO_ERROR, "socket(): " + Libc.strerror(Libc.lastErrno()));
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment addr = a.allocate(Libc.SOCKADDR_UN_SIZE, 8);
      addr.set(ValueLayout.JAVA_SHORT, 0, (short) Libc.AF_UNIX);
      MemorySegment.copy(bytes, 0, addr, ValueLayout.JAVA_BYTE, 2, bytes.length);
      int r;
      do {
        r = Libc.connect(fd, addr, Libc.SOCKADDR_UN_SIZE);
      } while (r < 0 && Libc.lastErrno() == Libc.EINTR);
      if (r < 0) {
        int errno = Libc.lastErrno();
        Libc.closeQuietly(fd);
        throw UnixSocketConnection.cannotConnect(
            p, Libc.strerror(errno), errno == Libc.ENOENT || errno == Libc.ECONNREFUSED);
      }
      setTimeout(a, fd, Libc.SO_SNDTIMEO, timeout);
      setTimeout(a, fd, Libc.SO_RCVTIMEO, timeout.compareTo(tick) < 0 ? timeout : tick);
    }
    return new NativeSocketIo(fd);
  }

  private static void setTimeout(Arena a, int fd, int option, Duration timeout) {
    MemorySegment tv = a.allocate(16, 8);
    long millis = Math.max(1, timeout.toMillis());
    tv.set(ValueLayout.JAVA_LONG, 0, millis / 1000);
    tv.set(ValueLayout.JAVA_LONG, 8, (millis % 1000) * 1000);
    Libc.setsockopt(fd, Libc.SOL_SOCKET, option, tv, 16);
  }

  @Override
  public long send(MemorySegment buf) throws IOException {
    while (true) {
      long n = Libc.send(fd, buf, buf.byteSize(), Libc.MSG_NOSIGNAL);
      if (n >= 0) {
        return n;
      }
      int errno = Libc.lastErrno();
      if (errno != Libc.EINTR) {
        throw new IOException(errno == Libc.EAGAIN ? "send timed out" : "send failed: " + Libc.strerror(errno));
      }
    }
  }

  @Override
  public long receive(MemorySegment buf, ArrayDeque<Integer> fds) throws IOException {
    Libc.IOV_BASE.set(iov, 0L, buf);
    Libc.IOV_LEN.set(iov, 0L, buf.byteSize());
    msghdr.fill((byte) 0);
    Libc.MSG_IOV.set(msghdr, 0L, iov);
    Libc.MSG_IOVLEN.set(msghdr, 0L, 1L);
    Libc.MSG_CONTROL.set(msghdr, 0L, control);
    Libc.MSG_CONTROLLEN.set(msghdr, 0L, control.byteSize());
    long n;
    while (true) {
      n = Libc.recvmsg(fd, msghdr, Libc.MSG_CMSG_CLOEXEC);
      if (n >= 0) {
        break;
      }
      int errno = Libc.lastErrno();
      if (errno == Libc.EAGAIN) {
        return TIMEOUT;
      }
      if (errno != Libc.EINTR) {
        throw new IOException("receive failed: " + Libc.strerror(errno));
      }
    }
    if (n == 0) {
      return END;
    }
    int received = collectFds(fds);
    if (((int) Libc.MSG_FLAGS.get(msghdr, 0L) & Libc.MSG_CTRUNC) != 0) {
      throw new IOException("received more descriptors than expected (control data truncated)");
    }
    // One filler byte travels with each descriptor message; it ends this read.
    return received > 0 ? n - 1 : n;
  }

  private int collectFds(ArrayDeque<Integer> fds) {
    long controlLen = (long) Libc.MSG_CONTROLLEN.get(msghdr, 0L);
    int count = 0;
    long pos = 0;
    while (pos + Libc.CMSGHDR_SIZE <= controlLen) {
      long cmsgLen = control.get(ValueLayout.JAVA_LONG, pos);
      int level = control.get(ValueLayout.JAVA_INT, pos + 8);
      int type = control.get(ValueLayout.JAVA_INT, pos + 12);
      if (cmsgLen < Libc.CMSGHDR_SIZE) {
        break;
      }
      if (level == Libc.SOL_SOCKET && type == Libc.SCM_RIGHTS) {
        int n = (int) ((cmsgLen - Libc.CMSGHDR_SIZE) / 4);
        for (int i = 0; i < n; i++) {
          fds.add(control.get(ValueLayout.JAVA_INT, pos + Libc.CMSGHDR_SIZE + 4L * i));
          count++;
        }
      }
      pos += (cmsgLen + 7) & ~7L;
    }
    return count;
  }

  @Override
  public boolean passesDescriptors() {
    return true;
  }

  @Override
  public void shutdown() {
    Libc.shutdown(fd, Libc.SHUT_RDWR);
  }

  @Override
  public void close() {
    Libc.closeQuietly(fd);
    arena.close();
  }
}
