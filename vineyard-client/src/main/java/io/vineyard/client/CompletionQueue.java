package io.vineyard.client;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Completes a client's async futures on its executor without a thread hand-off per reply: the
 * thread that reads replies only queues each completion, and one drainer task on the executor runs
 * the queue until it is empty (a new drainer is started only when none runs). A completion runs the
 * caller's stages attached to the future, which may block (blocking client calls are allowed there);
 * so that one blocked stage cannot hold back the completions queued behind it (one of which it may
 * be waiting for), a watchdog starts another drainer whenever the queue made no progress for
 * {@link #STUCK_MILLIS}.
 */
final class CompletionQueue implements AutoCloseable {

  static final long STUCK_MILLIS = 20;

  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("vineyard-completion-watchdog").factory());

  private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger drainers = new AtomicInteger();
  /** Completions taken so far; the watchdog compares it between two looks. */
  private final AtomicLong taken = new AtomicLong();
  private final Executor executor;
  private final Object watchdogLock = new Object();
  private ScheduledFuture<?> watchdog;
  private long seenByWatchdog = -1;
  private boolean closed;

  CompletionQueue(Executor executor) {
    this.executor = executor;
  }

  /** Queues a completion; called by the thread reading replies, so it never blocks. */
  void add(Runnable completion) {
    queue.add(completion);
    if (drainers.get() == 0 && drainers.compareAndSet(0, 1)) {
      startWatchdog();
      executor.execute(this::drain);
    }
  }

  private void drain() {
    while (true) {
      Runnable r;
      while ((r = queue.poll()) != null) {
        taken.incrementAndGet();
        try {
          r.run();
        } catch (RuntimeException e) {
          // A completion never throws (it completes its future exceptionally); keep draining anyway.
        }
      }
      // Leaving: look once more, so that a completion queued just now is not left behind.
      if (drainers.decrementAndGet() == 0 && !queue.isEmpty() && drainers.compareAndSet(0, 1)) {
        continue;
      }
      return;
    }
  }

  private void startWatchdog() {
    synchronized (watchdogLock) {
      if (watchdog == null && !closed) {
        watchdog = WATCHDOG.scheduleWithFixedDelay(this::look, STUCK_MILLIS, STUCK_MILLIS, TimeUnit.MILLISECONDS);
      }
    }
  }

  /** Starts one more drainer when completions wait and none was taken since the last look. */
  private void look() {
    long now = taken.get();
    boolean stuck = !queue.isEmpty() && now == seenByWatchdog && drainers.get() > 0;
    seenByWatchdog = now;
    if (stuck) {
      drainers.incrementAndGet();
      executor.execute(this::drain);
    } else if (queue.isEmpty() && drainers.get() == 0) {
      // Idle: no need to look until the next completion starts a drainer again.
      synchronized (watchdogLock) {
        if (watchdog != null && drainers.get() == 0 && queue.isEmpty()) {
          watchdog.cancel(false);
          watchdog = null;
        }
      }
    }
  }

  /** Stops the watchdog; completions still queued are run by the drainers that run. */
  @Override
  public void close() {
    synchronized (watchdogLock) {
      closed = true;
      if (watchdog != null) {
        watchdog.cancel(false);
        watchdog = null;
      }
    }
  }
}
