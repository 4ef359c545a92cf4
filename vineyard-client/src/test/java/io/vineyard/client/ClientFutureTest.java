package io.vineyard.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ClientFutureTest {

  /** Runs each task on a new thread named "executor". */
  private static final Executor EXECUTOR = task -> Thread.ofPlatform().name("executor").start(task);

  private static boolean onReader() {
    return Thread.currentThread().getName().equals("reader");
  }

  private static ClientFuture<Integer> future() {
    return new ClientFuture<>(EXECUTOR, ClientFutureTest::onReader);
  }

  /** Runs {@code r} on a thread named "reader" (as the client's reply reader) and waits for it. */
  private static void onReaderThread(Runnable r) throws InterruptedException {
    Thread.ofPlatform().name("reader").start(r).join();
  }

  private static boolean record(List<String> ranOn) {
    return ranOn.add(Thread.currentThread().getName());
  }

  @Test
  void stagesAddedBeforeCompletionRunOnTheExecutorNotTheReadingThread() throws Exception {
    List<String> ranOn = new CopyOnWriteArrayList<>();
    ClientFuture<Integer> f = future();
    List<Function<ClientFuture<Integer>, CompletableFuture<?>>> stages = List.of(
        x -> x.thenApply(v -> record(ranOn)),
        x -> x.thenAccept(v -> record(ranOn)),
        x -> x.thenRun(() -> record(ranOn)),
        x -> x.whenComplete((v, e) -> record(ranOn)),
        x -> x.handle((v, e) -> record(ranOn)),
        x -> x.thenCompose(v -> CompletableFuture.completedFuture(record(ranOn))),
        x -> x.thenCombine(CompletableFuture.completedFuture(1), (a, b) -> record(ranOn)),
        x -> x.thenAcceptBoth(CompletableFuture.completedFuture(1), (a, b) -> record(ranOn)),
        x -> x.applyToEither(new CompletableFuture<>(), v -> record(ranOn)));
    List<CompletableFuture<?>> derived = stages.stream().<CompletableFuture<?>>map(s -> s.apply(f)).toList();
    onReaderThread(() -> f.complete(7));
    for (CompletableFuture<?> d : derived) {
      d.get(10, TimeUnit.SECONDS);
    }
    assertEquals(stages.size(), ranOn.size());
    assertTrue(ranOn.stream().allMatch("executor"::equals), "stages ran on " + ranOn);
  }

  @Test
  void aStageAddedOnceCompleteRunsOnTheCaller() throws Exception {
    ClientFuture<Integer> f = future();
    onReaderThread(() -> f.complete(7));
    assertSame(Thread.currentThread(), f.thenApply(v -> Thread.currentThread()).join());
  }

  @Test
  void failuresReachStagesOnTheExecutor() throws Exception {
    ClientFuture<Integer> f = future();
    CompletableFuture<String> handled =
        f.exceptionally(e -> -1).thenApply(v -> v + " on " + Thread.currentThread().getName());
    onReaderThread(() -> f.completeExceptionally(new VineyardException(ErrorCode.NOT_FOUND, "gone")));
    assertEquals("-1 on executor", handled.get(10, TimeUnit.SECONDS));
  }

  @Test
  void waitingOnTheReadingThreadIsRefusedInsteadOfHanging() throws Exception {
    ClientFuture<Integer> f = future();
    CompletableFuture<VineyardException> refused = new CompletableFuture<>();
    onReaderThread(() -> {
      try {
        f.join();
        refused.complete(null);
      } catch (VineyardException e) {
        refused.complete(e);
      }
    });
    VineyardException e = refused.get(10, TimeUnit.SECONDS);
    assertEquals(ErrorCode.ILLEGAL_STATE, e == null ? null : e.code());
    // Once complete, it may be read on any thread.
    f.complete(3);
    CompletableFuture<Integer> readThere = new CompletableFuture<>();
    onReaderThread(() -> readThere.complete(f.join()));
    assertEquals(3, readThere.get(10, TimeUnit.SECONDS));
  }
}
