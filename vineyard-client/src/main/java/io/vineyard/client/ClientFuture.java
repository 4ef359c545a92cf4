package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The future of an asynchronous {@link IpcClient} call. The client completes it on its executor,
 * never on the thread that reads the connection's replies (which must never block, and where a
 * relay the JDK attaches itself, as for {@code allOf}, would run); every dependent stage added to it before it
 * completes ({@code thenApply}, {@code whenComplete}, ...) runs on the client's executor instead,
 * as its {@code *Async} twin would, and a blocking call made there is safe. A stage added once it is
 * complete runs on the caller's thread, as usual. Stages derived from it are plain futures.
 *
 * <p>A {@code join} or {@code get} of an unfinished future from the reading thread (which could only
 * happen in code the JDK runs there, such as a relay of {@link CompletableFuture#allOf}) would wait
 * for itself; it fails with {@link ErrorCode#ILLEGAL_STATE} instead.
 */
final class ClientFuture<T> extends CompletableFuture<T> {

  private final Executor executor;
  private final BooleanSupplier onReaderThread;

  ClientFuture(Executor executor, BooleanSupplier onReaderThread) {
    this.executor = executor;
    this.onReaderThread = onReaderThread;
  }

  @Override
  public <U> CompletableFuture<U> newIncompleteFuture() {
    return new CompletableFuture<>();
  }

  @Override
  public T join() {
    checkWait();
    return super.join();
  }

  @Override
  public T get() throws InterruptedException, ExecutionException {
    checkWait();
    return super.get();
  }

  @Override
  public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
    checkWait();
    return super.get(timeout, unit);
  }

  private void checkWait() {
    if (!isDone() && onReaderThread.getAsBoolean()) {
      throw new VineyardException(
          ErrorCode.ILLEGAL_STATE,
          "waiting for a client future on the thread that reads its replies would wait for itself; use the"
              + " *Async stages or another executor");
    }
  }

  @Override
  public <U> CompletableFuture<U> thenApply(Function<? super T, ? extends U> fn) {
    return isDone() ? super.thenApply(fn) : super.thenApplyAsync(fn, executor);
  }

  @Override
  public CompletableFuture<Void> thenAccept(Consumer<? super T> action) {
    return isDone() ? super.thenAccept(action) : super.thenAcceptAsync(action, executor);
  }

  @Override
  public CompletableFuture<Void> thenRun(Runnable action) {
    return isDone() ? super.thenRun(action) : super.thenRunAsync(action, executor);
  }

  @Override
  public <U, V> CompletableFuture<V> thenCombine(
      CompletionStage<? extends U> other, BiFunction<? super T, ? super U, ? extends V> fn) {
    return super.thenCombineAsync(other, fn, executor);
  }

  @Override
  public <U> CompletableFuture<Void> thenAcceptBoth(
      CompletionStage<? extends U> other, BiConsumer<? super T, ? super U> action) {
    return super.thenAcceptBothAsync(other, action, executor);
  }

  @Override
  public CompletableFuture<Void> runAfterBoth(CompletionStage<?> other, Runnable action) {
    return super.runAfterBothAsync(other, action, executor);
  }

  @Override
  public <U> CompletableFuture<U> applyToEither(CompletionStage<? extends T> other, Function<? super T, U> fn) {
    return super.applyToEitherAsync(other, fn, executor);
  }

  @Override
  public CompletableFuture<Void> acceptEither(CompletionStage<? extends T> other, Consumer<? super T> action) {
    return super.acceptEitherAsync(other, action, executor);
  }

  @Override
  public CompletableFuture<Void> runAfterEither(CompletionStage<?> other, Runnable action) {
    return super.runAfterEitherAsync(other, action, executor);
  }

  @Override
  public <U> CompletableFuture<U> thenCompose(Function<? super T, ? extends CompletionStage<U>> fn) {
    return isDone() ? super.thenCompose(fn) : super.thenComposeAsync(fn, executor);
  }

  @Override
  public CompletableFuture<T> whenComplete(BiConsumer<? super T, ? super Throwable> action) {
    return isDone() ? super.whenComplete(action) : super.whenCompleteAsync(action, executor);
  }

  @Override
  public <U> CompletableFuture<U> handle(BiFunction<? super T, Throwable, ? extends U> fn) {
    return isDone() ? super.handle(fn) : super.handleAsync(fn, executor);
  }

  @Override
  public CompletableFuture<T> exceptionally(Function<Throwable, ? extends T> fn) {
    return isDone() ? super.exceptionally(fn) : super.exceptionallyAsync(fn, executor);
  }

  @Override
  public CompletableFuture<T> exceptionallyCompose(Function<Throwable, ? extends CompletionStage<T>> fn) {
    return isDone() ? super.exceptionallyCompose(fn) : super.exceptionallyComposeAsync(fn, executor);
  }
}
