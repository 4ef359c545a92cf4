package io.vineyard.internal;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;

/**
 * A socket through the JDK's UNIX-domain {@link SocketChannel}: no native linking (the first call of
 * a foreign function costs milliseconds, which a short-lived tool feels), but no descriptors either,
 * so it serves connections that never map shared memory. The channel is non-blocking; a selector for
 * reading and one for writing give the waits their limits.
 */
final class ChannelSocketIo implements SocketIo {

  private final SocketChannel channel;
  private final Selector readable;
  private final Selector writable;
  private final long sendTimeoutMillis;
  private final long tickMillis;

  private ChannelSocketIo(SocketChannel channel, Selector readable, Selector writable, Duration timeout, Duration tick) {
    this.channel = channel;
    this.readable = readable;
    this.writable = writable;
    this.sendTimeoutMillis = Math.max(1, timeout.toMillis());
    this.tickMillis = Math.max(1, Math.min(timeout.toMillis(), tick.toMillis()));
  }

  /**
   * Connects; sends wait at most {@code timeout} for room, receives at most {@code tick}.
   *
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when nothing listens there
   */
  static ChannelSocketIo connect(Path path, Duration timeout, Duration tick) {
    SocketChannel ch = null;
    Selector r = null;
    Selector w = null;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      try {
        ch.connect(UnixDomainSocketAddress.of(path));
      } catch (IOException e) {
        boolean absent = e instanceof ConnectException || e instanceof NoSuchFileException
            || String.valueOf(e.getMessage()).contains("No such file");
        throw UnixSocketConnection.cannotConnect(path.toString(), reason(e), absent);
      }
      ch.configureBlocking(false);
      r = Selector.open();
      w = Selector.open();
      ch.register(r, SelectionKey.OP_READ);
      ch.register(w, SelectionKey.OP_WRITE);
      return new ChannelSocketIo(ch, r, w, timeout, tick);
    } catch (IOException e) {
      closeAll(ch, r, w);
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot open a connection to " + path + ": " + reason(e), e);
    } catch (RuntimeException e) {
      closeAll(ch, r, w);
      throw e;
    }
  }

  private static String reason(IOException e) {
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  @Override
  public long send(MemorySegment buf) throws IOException {
    ByteBuffer b = buf.asByteBuffer();
    long deadline = System.nanoTime() + sendTimeoutMillis * 1_000_000L;
    while (true) {
      int n = channel.write(b);
      if (n > 0) {
        return n;
      }
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        throw new IOException("send timed out");
      }
      writable.select(left);
      writable.selectedKeys().clear();
    }
  }

  @Override
  public long receive(MemorySegment buf, ArrayDeque<Integer> fds) throws IOException {
    ByteBuffer b = buf.asByteBuffer();
    int n = channel.read(b);
    if (n == 0) {
      readable.select(tickMillis);
      readable.selectedKeys().clear();
      n = channel.read(b);
    }
    return n > 0 ? n : n < 0 ? END : TIMEOUT;
  }

  @Override
  public boolean passesDescriptors() {
    return false;
  }

  @Override
  public void shutdown() {
    try {
      channel.shutdownInput();
      channel.shutdownOutput();
    } catch (IOException e) {
      // Already shut down or closed by the peer: either way nobody waits on it any more.
    }
    readable.wakeup();
    writable.wakeup();
  }

  @Override
  public void close() {
    closeAll(channel, readable, writable);
  }

  private static void closeAll(AutoCloseable... all) {
    for (AutoCloseable c : all) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          // Freeing: nothing more to do.
        }
      }
    }
  }
}
