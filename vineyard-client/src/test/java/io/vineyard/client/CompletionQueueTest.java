package io.vineyard.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CompletionQueueTest {

  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final AtomicInteger tasks = new AtomicInteger();
  private final CompletionQueue queue = new CompletionQueue(r -> {
    tasks.incrementAndGet();
    pool.execute(r);
  });

  @AfterEach
  void stop() {
    queue.close();
    pool.shutdownNow();
  }

  @Test
  void manyCompletionsQueuedAtOnceTakeFewDrainerTasks() throws Exception {
    int n = 10_000;
    AtomicInteger ran = new AtomicInteger();
    CompletableFuture<Void> all = new CompletableFuture<>();
    for (int i = 0; i < n; i++) {
      queue.add(() -> {
        if (ran.incrementAndGet() == n) {
          all.complete(null);
        }
      });
    }
    all.get(10, TimeUnit.SECONDS);
    assertEquals(n, ran.get());
    assertTrue(tasks.get() < n / 10, "one drainer runs many completions, not one task each: " + tasks.get());
  }

  @Test
  void aCompletionThatBlocksDoesNotHoldBackTheOnesQueuedBehindIt() throws Exception {
    CompletableFuture<Void> second = new CompletableFuture<>();
    CompletableFuture<Void> firstDone = new CompletableFuture<>();
    // The first waits for the second, which is queued behind it: the watchdog must start another drainer.
    queue.add(() -> {
      second.join();
      firstDone.complete(null);
    });
    queue.add(() -> second.complete(null));
    firstDone.get(10, TimeUnit.SECONDS);
  }
}
