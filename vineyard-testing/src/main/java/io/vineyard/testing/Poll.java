package io.vineyard.testing;

import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/**
 * Waiting in tests for something another process does: probes a condition every {@code interval}
 * until it holds or {@code timeout} passes, then fails with an {@link AssertionError} that names
 * what was awaited and the last value seen.
 *
 * <pre>{@code
 * Poll.until(Duration.ofSeconds(30), Duration.ofMillis(50), "the child's PINNED line", () -> log().contains("PINNED"));
 * StoreStats s = Poll.until(timeout, interval, "no pins", client::stats, st -> st.pinnedBlobCount() == 0);
 * Poll.ignoring(VineyardException.class).until(timeout, interval, "B registered", () -> ids(b).size() == 2);
 * }</pre>
 *
 * <p>An exception from a probe fails the wait at once (an {@link AssertionError} thrown by a probe,
 * e.g. "the child exited", goes through unchanged), unless its class is one the poll ignores: then
 * it counts as "not yet" and becomes the cause of the timeout's error. An interrupt ends the wait
 * with an {@link AssertionError} and leaves the thread's interrupt flag set.
 */
public final class Poll {

  /** A probe that may throw, so tests can read files or call clients inside it. */
  @FunctionalInterface
  public interface Probe<T> {
    T get() throws Exception;
  }

  /** A condition that may throw. */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  private static final Poll STRICT = new Poll(List.of());

  private final List<Class<? extends Throwable>> ignored;

  private Poll(List<Class<? extends Throwable>> ignored) {
    this.ignored = ignored;
  }

  /** A poll that treats this exception (and its subclasses) from the probe as "not yet" instead of failing. */
  public static Poll ignoring(Class<? extends Throwable> exception) {
    return new Poll(List.of(exception));
  }

  /** This poll, also treating {@code exception} from the probe as "not yet". */
  public Poll andIgnoring(Class<? extends Throwable> exception) {
    List<Class<? extends Throwable>> all = new java.util.ArrayList<>(ignored);
    all.add(exception);
    return new Poll(List.copyOf(all));
  }

  /** Waits until {@code condition} holds. */
  public static void until(Duration timeout, Duration interval, String what, Condition condition) {
    STRICT.await(timeout, interval, what, condition);
  }

  /** Waits until {@code done} accepts what {@code probe} returns, and returns that value. */
  public static <T> T until(Duration timeout, Duration interval, String what, Probe<T> probe, Predicate<? super T> done) {
    return STRICT.await(timeout, interval, what, probe, done);
  }

  /** {@link #until(Duration, Duration, String, Condition)} with this poll's ignored exceptions. */
  public void await(Duration timeout, Duration interval, String what, Condition condition) {
    await(timeout, interval, what, condition::holds, Boolean.TRUE::equals);
  }

  /** {@link #until(Duration, Duration, String, Probe, Predicate)} with this poll's ignored exceptions. */
  public <T> T await(Duration timeout, Duration interval, String what, Probe<T> probe, Predicate<? super T> done) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Object last = "(never probed)";
    Throwable lastIgnored = null;
    while (true) {
      try {
        T value = probe.get();
        if (done.test(value)) {
          return value;
        }
        last = value;
        lastIgnored = null;
      } catch (Throwable t) {
        if (!isIgnored(t)) {
          if (t instanceof Error e) {
            throw e;
          }
          throw new AssertionError("failed while waiting for " + what + ": " + t, t);
        }
        last = t;
        lastIgnored = t;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what + "; last seen: " + last, lastIgnored);
      }
      try {
        Thread.sleep(interval);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while waiting for " + what, e);
      }
    }
  }

  private boolean isIgnored(Throwable t) {
    for (Class<? extends Throwable> c : ignored) {
      if (c.isInstance(t)) {
        return true;
      }
    }
    return false;
  }
}
