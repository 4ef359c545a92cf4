package io.vineyard.internal;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * The system calls under a {@link UnixSocketConnection}: {@link NativeSocketIo} (through the
 * foreign-function layer; receives descriptors) or {@link ChannelSocketIo} (the JDK's channels; no
 * native linking, so quick to open, but no descriptors: for connections that only read and change
 * metadata).
 *
 * <p>Threads: one thread sends and one receives at a time (the connection's locks); {@link #shutdown}
 * may come from any thread and wakes both.
 */
interface SocketIo {

  /** {@link #receive}: nothing arrived within {@link UnixSocketConnection#RECEIVE_TICK}. */
  long TIMEOUT = -2;

  /** {@link #receive}: the peer closed the connection. */
  long END = -1;

  /**
   * Sends some of {@code buf}, waiting up to the connection's send timeout for room.
   *
   * @return bytes sent, at least one
   * @throws IOException with the reason as its message ("send timed out", ...)
   */
  long send(MemorySegment buf) throws IOException;

  /**
   * Receives into {@code buf}, waiting at most the receive tick.
   *
   * @param fds where descriptors that arrive go, in order
   * @return bytes of frame data received (possibly 0, when only descriptors came), {@link #TIMEOUT}
   *     or {@link #END}
   * @throws IOException with the reason as its message
   */
  long receive(MemorySegment buf, ArrayDeque<Integer> fds) throws IOException;

  /** Whether descriptors can arrive on this connection. */
  boolean passesDescriptors();

  /** Shuts the socket down both ways without freeing it: blocked senders and receivers return. */
  void shutdown();

  /** Frees the socket; called once, after {@link #shutdown}, when no thread uses it any more. */
  void close();
}
