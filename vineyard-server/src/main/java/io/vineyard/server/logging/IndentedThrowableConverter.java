package io.vineyard.server.logging;

import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.vineyard.internal.Escapes;

/**
 * {@code %iex} in the daemon's log pattern: a stack trace whose every line is indented, so that an
 * exception message carrying a client's text (with a newline in it) cannot produce a line that
 * looks like a log record of its own; other control characters are escaped.
 */
public final class IndentedThrowableConverter extends ThrowableProxyConverter {
  @Override
  public String convert(ILoggingEvent event) {
    String trace = super.convert(event);
    if (trace.isEmpty()) {
      return trace;
    }
    StringBuilder b = new StringBuilder(trace.length() + 64);
    String[] lines = trace.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      if (i == lines.length - 1 && line.isEmpty()) {
        break; // the trace's own final newline
      }
      String body = line.startsWith("\t") ? line.substring(1) : line;
      b.append('\t').append(Escapes.printable(body)).append(System.lineSeparator());
    }
    return b.toString();
  }
}
