package io.vineyard.server.ipc;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of incomplete request frames that all connections of a server may hold together
 * ({@code --max-buffered}). A connection charges what its partial frame's buffer grows to before
 * it grows it; one that finds no room stops reading and waits here until others give bytes back.
 * Thread-safe.
 */
final class BufferBudget {

  private final long limit;
  private final AtomicLong used = new AtomicLong();
  private final ConcurrentLinkedQueue<Runnable> waiting = new ConcurrentLinkedQueue<>();

  BufferBudget(long limit) {
    this.limit = limit;
  }

  long limit() {
    return limit;
  }

  /** Bytes charged now. */
  long used() {
    return used.get();
  }

  /** Charges {@code n} bytes if they fit under the limit. */
  boolean tryCharge(long n) {
    while (true) {
      long u = used.get();
      if (u + n > limit) {
        return false;
      }
      if (used.compareAndSet(u, u + n)) {
        return true;
      }
    }
  }

  /** Gives {@code n} bytes back and lets every waiting connection try again. */
  void refund(long n) {
    if (n == 0) {
      return;
    }
    used.addAndGet(-n);
    Runnable r;
    while ((r = waiting.poll()) != null) {
      r.run();
    }
  }

  /** Runs {@code retry} (which must hand itself to its own event loop) the next time bytes are given back. */
  void await(Runnable retry) {
    waiting.add(retry);
    if (used.get() < limit) {
      // bytes came back between the failed charge and now: do not wait for the next refund
      Runnable r;
      while ((r = waiting.poll()) != null) {
        r.run();
      }
    }
  }
}
