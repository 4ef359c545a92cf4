package io.vineyard.server.testing;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Holds back the calls that pass through it while closed, and counts the callers that reached it:
 * the test closes it, starts a request, waits until the request is inside the slow call, checks what
 * else is served meanwhile, then opens it. A caller never waits more than 30 seconds.
 */
public final class Gate {

  private volatile CountDownLatch latch = new CountDownLatch(0);
  private final Semaphore entered = new Semaphore(0);

  /** Makes later callers wait until {@link #open}; forgets who passed before. */
  public void close() {
    entered.drainPermits();
    latch = new CountDownLatch(1);
  }

  public void open() {
    latch.countDown();
  }

  /** Called by the slow operation: records the caller, then waits while the gate is closed. */
  public void pass() {
    entered.release();
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never opened the gate");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted at the gate", e);
    }
  }

  /** Waits until {@code n} callers reached the gate since it was closed; false after 10 seconds. */
  public boolean awaitEntered(int n) throws InterruptedException {
    if (!entered.tryAcquire(n, 10, TimeUnit.SECONDS)) {
      return false;
    }
    entered.release(n);
    return true;
  }
}
