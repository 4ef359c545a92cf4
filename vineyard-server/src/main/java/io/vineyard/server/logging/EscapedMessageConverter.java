package io.vineyard.server.logging;

import ch.qos.logback.classic.pattern.MessageConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.vineyard.internal.Escapes;

/**
 * {@code %emsg} in the daemon's log pattern: the message with control characters escaped, so that
 * text a client chose (a client name, an object name, a field) can never start a line of its own
 * or send escape sequences to whoever reads the log on a terminal.
 */
public final class EscapedMessageConverter extends MessageConverter {
  @Override
  public String convert(ILoggingEvent event) {
    return Escapes.printable(super.convert(event));
  }
}
