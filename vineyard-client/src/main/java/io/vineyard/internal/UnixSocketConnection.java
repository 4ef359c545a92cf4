package io.vineyard.internal;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A blocking client connection on a UNIX-domain stream socket that sends and receives length-framed
 * messages and receives file descriptors passed with {@code SCM_RIGHTS}.
 *
 * <p>Threads: any number of threads may write frames at once: each frame is appended whole to a
 * send queue, and the thread that finds no one sending sends the queue, frames other threads append
 * meanwhile included, so frames written together leave in one {@code send}; frames and descriptors are read by one thread at a time (a
 * receive lock, which the caller is expected to hold alone anyway, since whoever reads a frame must
 * also take its descriptors). {@link #close()} may be called from any thread: it shuts the socket
 * down first, which wakes a reader blocked in {@code recvmsg} and a writer blocked in {@code send},
 * then waits for them to leave before it frees the descriptor and the buffers.
 *
 * <p>Frames are a 4-byte big-endian length and a payload. A descriptor arrives with one filler byte
 * that belongs to no frame; the kernel ends a {@code recvmsg} right after the message that carries
 * descriptors, so that filler is always the last byte a descriptor-bearing read returns, and it is
 * dropped there.
 */
public final class UnixSocketConnection implements AutoCloseable {

  private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
  private static final int INITIAL_BUFFER = 64 * 1024;
  /** Longest a deferrable frame waits in the queue for another frame to take it along. */
  static final Duration DEFERRED_FLUSH = Duration.ofMillis(1);

  /**
   * Times the deferred-flush backstop; one thread for every connection, so it never sends itself (a
   * send can block until the connection's timeout): it hands the send to {@link #SENDERS}.
   */
  private static final java.util.concurrent.ScheduledExecutorService FLUSHER =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("vineyard-ipc-flusher").factory());

  /**
   * Sends queues that no caller sends: deferred frames nothing took along, and the rest of a queue
   * that a caller's thread gave up sending after {@link #SEND_BUDGET} (at most one thread per
   * connection at a time, since only the thread that set {@code sending} sends).
   */
  private static final java.util.concurrent.ExecutorService SENDERS =
      java.util.concurrent.Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("vineyard-ipc-sender").factory());

  /**
   * How long a caller's thread that took the sender role goes on sending frames other threads
   * queued meanwhile once its own frame is out; then it hands the queue to {@link #SENDERS}, so that
   * a steady stream of other threads' frames cannot keep it from its own call (and its deadline).
   */
  static final Duration SEND_BUDGET = Duration.ofMillis(1);

  /** Send buffers larger than this shrink back to {@link #INITIAL_BUFFER} when the frames are small again. */
  private static final long SHRINK_ABOVE = 1L << 20;

  /** Bytes queued for the sending thread beyond which a writer waits for them to be taken. */
  private static final long MAX_QUEUED = 8L << 20;

  private final SocketIo io;
  private final Path path;
  private final Arena arena = Arena.ofShared();
  private final ArrayDeque<Integer> receivedFds = new ArrayDeque<>();
  /** Held while a {@code send} runs, so that {@link #close()} waits for it before freeing the descriptor. */
  private final ReentrantLock sendLock = new ReentrantLock();
  /** Guards the send queue: {@link #queue}, {@link #queuedBytes}, {@link #outgoing}, {@link #sending}. */
  private final ReentrantLock queueLock = new ReentrantLock();
  private final java.util.concurrent.locks.Condition queueTaken = queueLock.newCondition();
  private final ReentrantLock recvLock = new ReentrantLock();
  /** How long a send may block, and how long {@link #readFrame(int)} waits for a frame. */
  private final long timeoutNanos;

  private MemorySegment recvBuf;
  private long readPos;
  private long writePos;
  /** Frames written and not yet taken by the sending thread. */
  private MemorySegment queue;
  private long queuedBytes;
  /** What the sending thread is sending now (swapped with {@link #queue}). */
  private MemorySegment outgoing;
  /** Whether a thread is sending the queue (it sends until it finds the queue empty). */
  private boolean sending;
  /** Whether the deferred-flush backstop is scheduled for this connection. */
  private boolean flushScheduled;
  private volatile boolean closed;
  /** Set once the connection failed (end of stream, an error, a bad frame); the socket is shut down. */
  private volatile String broken;

  private UnixSocketConnection(SocketIo io, Path path, Duration timeout) {
    this.io = io;
    this.path = path;
    this.timeoutNanos = timeout.toNanos();
    this.recvBuf = arena.allocate(INITIAL_BUFFER, 8);
    this.queue = sendBuffer(INITIAL_BUFFER);
    this.outgoing = sendBuffer(INITIAL_BUFFER);
  }

  /** The longest one {@code recvmsg} blocks, so that a waiting reader can check its own deadline. */
  static final Duration RECEIVE_TICK = Duration.ofMillis(100);

  /**
   * Connects to the socket at {@code path}, through the native layer: descriptors (shared memory)
   * can be received.
   *
   * @param timeout how long a send may block, and {@link #readFrame(int)} may wait, before the
   *     connection is declared broken
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when nothing listens there
   */
  public static UnixSocketConnection connect(Path path, Duration timeout) {
    checkPath(path);
    return new UnixSocketConnection(NativeSocketIo.connect(path, timeout, RECEIVE_TICK), path, timeout);
  }

  /**
   * Connects to the socket at {@code path} through the JDK's channels, without the native layer:
   * quicker to open, but descriptors cannot be received ({@link #passesDescriptors()} is false), so
   * only for requests whose answers carry none.
   *
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when nothing listens there
   */
  public static UnixSocketConnection connectWithoutDescriptors(Path path, Duration timeout) {
    checkPath(path);
    return new UnixSocketConnection(ChannelSocketIo.connect(path, timeout, RECEIVE_TICK), path, timeout);
  }

  private static void checkPath(Path path) {
    String p = path.toString();
    if (p.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= Libc.SUN_PATH_MAX) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "socket path is longer than " + (Libc.SUN_PATH_MAX - 1) + " bytes: " + p);
    }
  }

  /** The error of a connect that failed for {@code reason}; {@code absent}: nothing listens there. */
  static VineyardException cannotConnect(String path, String reason, boolean absent) {
    return new VineyardException(
        ErrorCode.UNAVAILABLE,
        "cannot connect to vineyardd at " + path + ": " + reason + (absent ? " (is the daemon running?)" : ""));
  }

  /** Whether descriptors can arrive on this connection (see {@link #connectWithoutDescriptors}). */
  public boolean passesDescriptors() {
    return io.passesDescriptors();
  }

  /** Bytes of the two send buffers (for tests). */
  long sendBufferBytes() {
    queueLock.lock();
    try {
      return queue.byteSize() + outgoing.byteSize();
    } finally {
      queueLock.unlock();
    }
  }

  public Path path() {
    return path;
  }

  /** Sends one frame: the 4-byte length and {@code payload}. */
  public void writeFrame(byte[] payload) {
    enqueue(payload.length, false, (buf, at) -> MemorySegment.copy(payload, 0, buf, ValueLayout.JAVA_BYTE, at, payload.length));
  }

  /** Sends one frame holding {@code message}, serialized straight into the send buffer (no copy). */
  public void writeFrame(MessageLite message) {
    writeFrame(message, false);
  }

  /**
   * Sends one frame holding {@code message}; with {@code deferrable}, it may instead wait in the
   * queue for the next frame written (which takes it along in the same {@code send}), at most about
   * {@link #DEFERRED_FLUSH} before it is sent on its own. For one-way messages whose timing does not
   * matter to anyone but this connection (a release), written while other requests are in flight.
   * Frames keep their order either way.
   */
  public void writeFrame(MessageLite message, boolean deferrable) {
    int size = message.getSerializedSize();
    enqueue(size, deferrable, (buf, at) -> {
      try {
        CodedOutputStream out = CodedOutputStream.newInstance(buf.asSlice(at, size).asByteBuffer());
        message.writeTo(out);
        out.flush();
      } catch (IOException e) {
        throw new VineyardException(ErrorCode.INTERNAL, "cannot serialize a request", e);
      }
    });
  }

  /** Writes a frame's payload of a known size at {@code offset} of {@code buffer}. */
  private interface PayloadWriter {
    void write(MemorySegment buffer, long offset);
  }

  /**
   * Appends one frame to the queue and sends the queue unless another thread is sending it now, in
   * which case that thread sends this frame too before it stops: frames that threads write at the
   * same time leave in one {@code send}, and the thread whose frame was taken along does not wait
   * (after {@link #SEND_BUDGET} the sender leaves the frames still coming to a background thread).
   * A thread that finds more than {@link #MAX_QUEUED} bytes waiting for the sender waits until they
   * are taken (so a daemon that stops reading cannot make the queue grow without bound).
   */
  private void enqueue(int payload, boolean deferrable, PayloadWriter body) {
    long total = 4L + payload;
    queueLock.lock();
    try {
      ensureOpen();
      while (sending && queuedBytes > 0 && queuedBytes + total > MAX_QUEUED) {
        try {
          if (!queueTaken.await(timeoutNanos, java.util.concurrent.TimeUnit.NANOSECONDS)) {
            throw broken("send timed out");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new VineyardException(ErrorCode.UNAVAILABLE, "interrupted while waiting to send (" + path + ")");
        }
        ensureOpen();
      }
      if (queue.byteSize() - queuedBytes < total) {
        MemorySegment bigger = sendBuffer(Math.max(queuedBytes + total, queue.byteSize() * 2));
        MemorySegment.copy(queue, 0, bigger, 0, queuedBytes);
        queue = bigger;
      }
      queue.set(INT_BE, queuedBytes, payload);
      body.write(queue, queuedBytes + 4);
      queuedBytes += total;
      if (sending) {
        return;
      }
      if (deferrable) {
        if (!flushScheduled) {
          flushScheduled = true;
          FLUSHER.schedule(
              () -> SENDERS.execute(this::flushDeferred), DEFERRED_FLUSH.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        }
        return;
      }
      sending = true;
    } finally {
      queueLock.unlock();
    }
    sendQueued();
  }

  /**
   * A send buffer. Each has an arena of its own, freed by the GC once replaced by a bigger one: the
   * two buffers take turns, so growing one must not keep the one it replaces for the connection's life.
   */
  private static MemorySegment sendBuffer(long size) {
    return Arena.ofAuto().allocate(size, 8);
  }

  /** The deferred-flush backstop: sends what is still queued, unless someone is sending it already. */
  private void flushDeferred() {
    queueLock.lock();
    try {
      flushScheduled = false;
      if (queuedBytes == 0 || sending || closed || broken != null) {
        return;
      }
      sending = true;
    } finally {
      queueLock.unlock();
    }
    sendForOthers();
  }

  /** Sends the queue on a {@link #SENDERS} thread, for as long as it takes; {@code sending} is set. */
  private void sendForOthers() {
    try {
      sendQueued(false);
    } catch (VineyardException e) {
      // The connection is broken now; whoever uses it next is told.
    }
  }

  /** Sends what is queued until the queue is empty; called by the caller's thread that set {@code sending}. */
  private void sendQueued() {
    sendQueued(true);
  }

  /**
   * Sends what is queued until the queue is empty; called by the one thread that set {@code
   * sending}. With {@code handOff}, once the first batch (with the caller's own frame) is out and
   * {@link #SEND_BUDGET} has passed, what is still queued is left to a {@link #SENDERS} thread.
   */
  private void sendQueued(boolean handOff) {
    boolean done = false;
    long start = System.nanoTime();
    boolean first = true;
    try {
      while (true) {
        long length;
        queueLock.lock();
        try {
          if (queuedBytes == 0) {
            sending = false;
            done = true;
            return;
          }
          if (handOff && !first && System.nanoTime() - start >= SEND_BUDGET.toNanos() && !closed && broken == null) {
            try {
              SENDERS.execute(this::sendForOthers); // still sending: the queue is that thread's now
              done = true;
              return;
            } catch (java.util.concurrent.RejectedExecutionException e) {
              handOff = false; // go on sending here
            }
          }
          first = false;
          MemorySegment full = queue;
          // The emptied buffer becomes the queue; one grown by a burst of big frames is given back
          // (to the GC) once the frames are small again, so a connection does not keep megabytes.
          queue = outgoing.byteSize() > SHRINK_ABOVE && queuedBytes < outgoing.byteSize() / 8
              ? sendBuffer(INITIAL_BUFFER)
              : outgoing;
          outgoing = full;
          length = queuedBytes;
          queuedBytes = 0;
          queueTaken.signalAll();
        } finally {
          queueLock.unlock();
        }
        sendAll(outgoing, length);
      }
    } finally {
      if (!done) {
        queueLock.lock();
        try {
          sending = false;
          queueTaken.signalAll();
        } finally {
          queueLock.unlock();
        }
      }
    }
  }

  private void sendAll(MemorySegment buf, long total) {
    sendLock.lock();
    try {
      ensureOpen();
      long sent = 0;
      while (sent < total) {
        try {
          sent += io.send(buf.asSlice(sent, total - sent));
        } catch (IOException e) {
          throw broken(e.getMessage());
        }
      }
    } finally {
      sendLock.unlock();
    }
  }

  /**
   * Reads the next frame and returns its payload, valid until the next read on this connection;
   * waits at most the connection's timeout, after which the connection is broken.
   *
   * @param maxFrame frames longer than this break the connection
   */
  public ByteBuffer readFrame(int maxFrame) {
    long deadline = System.nanoTime() + timeoutNanos;
    while (true) {
      ByteBuffer frame = pollFrame(maxFrame);
      if (frame != null) {
        return frame;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw broken("timed out waiting for the daemon");
      }
    }
  }

  /**
   * Reads the next frame if one arrives within {@link #RECEIVE_TICK}, else returns null (bytes of a
   * frame received so far are kept for the next call). The payload is valid until the next read.
   *
   * @param maxFrame frames longer than this break the connection
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when the connection is broken or closed
   */
  public ByteBuffer pollFrame(int maxFrame) {
    return frame(maxFrame, true);
  }

  /**
   * The next frame if it has been received whole already, else null: no system call. The payload is
   * valid until the next read.
   *
   * @param maxFrame frames longer than this break the connection
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when the connection is broken or closed
   */
  public ByteBuffer bufferedFrame(int maxFrame) {
    return frame(maxFrame, false);
  }

  /** The next frame; with {@code receive}, reading from the socket for up to a tick, else only what is buffered. */
  private ByteBuffer frame(int maxFrame, boolean receive) {
    recvLock.lock();
    try {
      ensureOpen();
      if (!(receive ? fillAtLeast(4) : writePos - readPos >= 4)) {
        return null;
      }
      long len = Integer.toUnsignedLong(recvBuf.get(INT_BE, readPos));
      if (len > maxFrame) {
        throw broken("daemon sent a frame of " + len + " bytes, over the limit of " + maxFrame);
      }
      if (!(receive ? fillAtLeast(4 + len) : writePos - readPos >= 4 + len)) {
        return null;
      }
      ByteBuffer payload = recvBuf.asSlice(readPos + 4, len).asByteBuffer();
      readPos += 4 + len;
      return payload;
    } finally {
      recvLock.unlock();
    }
  }

  /**
   * Takes the oldest received descriptor not yet taken. The caller owns it and must close it.
   *
   * @throws VineyardException {@link ErrorCode#PROTOCOL_ERROR} when none was received
   */
  public int takeFd() {
    recvLock.lock();
    try {
      Integer f = receivedFds.poll();
      if (f == null) {
        throw broken("daemon announced a shared-memory descriptor that did not arrive");
      }
      return f;
    } finally {
      recvLock.unlock();
    }
  }

  /** Whether {@code needed} bytes are buffered; false when the receive tick passed first. */
  private boolean fillAtLeast(long needed) {
    while (writePos - readPos < needed) {
      if (readPos == writePos) {
        readPos = writePos = 0;
      }
      if (recvBuf.byteSize() - readPos < needed) {
        long buffered = writePos - readPos;
        long capacity = recvBuf.byteSize();
        while (capacity < needed) {
          capacity *= 2;
        }
        MemorySegment target = capacity == recvBuf.byteSize() ? recvBuf : arena.allocate(capacity, 8);
        MemorySegment.copy(recvBuf, readPos, target, 0, buffered);
        recvBuf = target;
        readPos = 0;
        writePos = buffered;
      }
      if (!receiveOnce()) {
        return false;
      }
    }
    return true;
  }

  /** One receive; false when nothing arrived within the receive tick. */
  private boolean receiveOnce() {
    long n;
    try {
      n = io.receive(recvBuf.asSlice(writePos, recvBuf.byteSize() - writePos), receivedFds);
    } catch (IOException e) {
      throw broken(e.getMessage());
    }
    if (n == SocketIo.TIMEOUT) {
      return false;
    }
    if (n == SocketIo.END) {
      throw broken(closed ? "the connection was closed" : "the daemon closed the connection");
    }
    writePos += n;
    return true;
  }

  /**
   * Marks the connection failed and shuts the socket down (so every other thread blocked on it
   * returns); the descriptor and buffers are freed by {@link #close()}.
   */
  private VineyardException broken(String why) {
    synchronized (this) {
      if (broken == null) {
        broken = why;
        if (!closed) {
          io.shutdown();
        }
      }
    }
    return new VineyardException(ErrorCode.UNAVAILABLE, why + " (" + path + "); the connection is closed");
  }

  private void ensureOpen() {
    if (closed) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "connection to " + path + " is closed");
    }
    String why = broken;
    if (why != null) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "connection to " + path + " is broken: " + why);
    }
  }

  /** Whether the connection can no longer be used: closed, or broken by an error. */
  public boolean isClosed() {
    return closed || broken != null;
  }

  /**
   * Closes the connection; idempotent and safe from any thread. A thread blocked reading or writing
   * on it returns with {@link ErrorCode#UNAVAILABLE} first.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      if (broken == null) {
        io.shutdown();
      }
    }
    recvLock.lock();
    sendLock.lock();
    try {
      io.close();
      Integer f;
      while ((f = receivedFds.poll()) != null) {
        Libc.closeQuietly(f);
      }
      arena.close();
    } finally {
      sendLock.unlock();
      recvLock.unlock();
    }
  }
}
