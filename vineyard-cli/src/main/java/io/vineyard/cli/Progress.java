package io.vineyard.cli;

import io.vineyard.MemorySize;
import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar for long transfers, drawn on stderr only when stderr is a terminal; otherwise
 * every call is a no-op, so piped output stays clean. A line left drawn when the process is
 * stopped (Ctrl-C, SIGTERM) is ended, so that the shell's prompt starts on a line of its own.
 */
final class Progress implements AutoCloseable {

  private static final long MIN_BYTES = 16L << 20;
  private static final long REDRAW_NANOS = 100_000_000L;

  private final PrintStream err;
  private final boolean enabled;
  private String label;
  private long total;
  private long start = System.nanoTime();
  private long lastDraw;
  private long done;
  /** Ends the drawn line at exit; registered once something is drawn. */
  private Thread endLineAtExit;
  /** Set once the line was ended at exit (Ctrl-C): nothing is drawn after that. */
  private boolean ended;

  /**
   * @param total bytes expected, or -1 when unknown
   * @param terminal whether stderr is a terminal
   */
  Progress(PrintStream err, String label, long total, boolean terminal) {
    this.err = err;
    this.label = label;
    this.total = total;
    this.enabled = terminal && (total < 0 || total >= MIN_BYTES);
    // With no total, a bar appears only once the transfer has become long.
  }

  /**
   * Starts another stage (a second pass over the input): its own label and total, from 0. A stage
   * whose bar was drawn is drawn complete and keeps its line.
   */
  synchronized void stage(String newLabel, long newTotal) {
    if (enabled && !ended && lastDraw != 0) {
      done = Math.max(done, total);
      draw(System.nanoTime());
      err.println();
      lastDraw = 0;
    }
    label = newLabel;
    total = newTotal;
    done = 0;
    start = System.nanoTime();
  }

  /** Moves to {@code doneSoFar} bytes in all, for sources that report totals rather than steps. */
  void reached(long doneSoFar) {
    advance(Math.max(0, doneSoFar - done));
  }

  synchronized void advance(long bytes) {
    done += bytes;
    if (!enabled || ended) {
      return;
    }
    if (total < 0 && done < MIN_BYTES) {
      return;
    }
    long now = System.nanoTime();
    if (lastDraw == 0 || now - lastDraw >= REDRAW_NANOS) {
      lastDraw = now;
      draw(now);
    }
  }

  private void draw(long now) {
    if (endLineAtExit == null) {
      endLineAtExit = new Thread(this::endLine, "vineyardctl-progress");
      Runtime.getRuntime().addShutdownHook(endLineAtExit);
    }
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    // No rate before one redraw interval has passed: a rate over the first few bytes means nothing.
    String rate = now - start < REDRAW_NANOS ? "" : ", " + MemorySize.format((long) (done / seconds)) + "/s";
    if (total > 0) {
      int width = 30;
      long shown = Math.min(done, total);
      int filled = (int) (width * shown / total);
      err.printf(Locale.ROOT, "\r%s [%s%s] %3d%% %s of %s%s\033[K", label, "=".repeat(filled), " ".repeat(width - filled),
          100 * shown / total, MemorySize.format(done), MemorySize.format(total), rate);
    } else {
      err.printf(Locale.ROOT, "\r%s %s%s\033[K", label, MemorySize.format(done), rate);
    }
    err.flush();
  }

  synchronized void endLine() {
    ended = true; // the command goes on until the JVM halts: it must not draw over the ended line
    if (lastDraw != 0) {
      err.println();
      err.flush();
      lastDraw = 0;
    }
  }

  @Override
  public synchronized void close() {
    if (enabled && !ended && lastDraw != 0) {
      draw(System.nanoTime());
      err.println();
      lastDraw = 0;
    }
    if (endLineAtExit != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(endLineAtExit);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs, and finds the line ended
      }
      endLineAtExit = null;
    }
  }
}
