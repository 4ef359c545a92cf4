package io.vineyard.server.ipc;

import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;

/**
 * Logs refusals (a connection over a limit, one closed for a timeout) once per cause with what
 * happened, then counts them: a flood of refused connections writes one line a minute per cause,
 * saying how many more there were, instead of one line each. Thread-safe.
 */
public final class RefusalLog {

  static final long REPEAT_NANOS = 60_000_000_000L;

  private final Logger log;
  private final ConcurrentHashMap<String, Cause> causes = new ConcurrentHashMap<>();

  private static final class Cause {
    long suppressed;
    long lastLogged;
    boolean logged;
  }

  public RefusalLog(Logger log) {
    this.log = log;
  }

  /**
   * Records one refusal.
   *
   * @param cause what the refusals of this kind have in common (the limit and its flag)
   * @param detail this one: who, and what exactly
   */
  public void refused(String cause, String detail) {
    Cause c = causes.computeIfAbsent(cause, k -> new Cause());
    long now = System.nanoTime();
    String line = null;
    synchronized (c) {
      if (!c.logged) {
        c.logged = true;
        c.lastLogged = now;
        line = detail + ": " + cause + " (more of these are counted and logged at most once a minute)";
      } else {
        c.suppressed++;
        if (now - c.lastLogged >= REPEAT_NANOS) {
          line = c.suppressed + " more refused in the last " + (now - c.lastLogged) / 1_000_000_000L + " s: " + cause
              + "; the latest: " + detail;
          c.suppressed = 0;
          c.lastLogged = now;
        }
      }
    }
    if (line != null) {
      log.warn("{}", line);
    }
  }
}
