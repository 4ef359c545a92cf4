package io.vineyard.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

/** A pseudo-terminal for tests: the tool writes to its terminal side, the test reads the other. */
@SuppressWarnings("restricted")
final class Pty implements AutoCloseable {

  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle OPENPT = fn("posix_openpt", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  private static final MethodHandle GRANTPT = fn("grantpt", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  private static final MethodHandle UNLOCKPT = fn("unlockpt", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  private static final MethodHandle PTSNAME = fn("ptsname", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  private static final MethodHandle READ =
      fn("read", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
  private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

  private static final int O_RDWR = 2;
  private static final int O_NOCTTY = 0400;

  private final int master;
  /** The terminal side's path, /dev/pts/N. */
  final String terminal;

  Pty() throws Throwable {
    master = (int) OPENPT.invokeExact(O_RDWR | O_NOCTTY);
    if (master < 0 || (int) GRANTPT.invokeExact(master) != 0 || (int) UNLOCKPT.invokeExact(master) != 0) {
      throw new IllegalStateException("no pseudo-terminal");
    }
    MemorySegment name = (MemorySegment) PTSNAME.invokeExact(master);
    terminal = name.reinterpret(64).getString(0, StandardCharsets.US_ASCII);
  }

  /** Reads exactly {@code n} bytes written to the terminal side. */
  byte[] read(int n) throws Throwable {
    byte[] out = new byte[n];
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(n);
      int got = 0;
      while (got < n) {
        long r = (long) READ.invokeExact(master, buf.asSlice(got), (long) (n - got));
        if (r <= 0) {
          throw new IllegalStateException("terminal closed after " + got + " bytes");
        }
        got += (int) r;
      }
      MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, out, 0, n);
    }
    return out;
  }

  /**
   * Reads what comes to the terminal side until every writer has closed it, into {@code out}
   * (appended under its lock as it comes).
   */
  void readUntilClosed(java.io.ByteArrayOutputStream out) throws Throwable {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(4096);
      while (true) {
        long r = (long) READ.invokeExact(master, buf, 4096L);
        if (r <= 0) {
          return; // EIO once the last writer closed it
        }
        synchronized (out) {
          out.write(buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE));
        }
      }
    }
  }

  @Override
  public void close() {
    try {
      int ignored = (int) CLOSE.invokeExact(master);
    } catch (Throwable e) {
      throw new IllegalStateException(e);
    }
  }

  private static MethodHandle fn(String name, FunctionDescriptor d) {
    return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
  }
}
