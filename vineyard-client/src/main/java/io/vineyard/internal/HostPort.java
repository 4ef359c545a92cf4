package io.vineyard.internal;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;

/** A {@code host:port} endpoint ({@code [v6addr]:port} for IPv6 literals). */
public record HostPort(String host, int port) {

  public HostPort {
    if (host == null || host.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an endpoint needs a host");
    }
    if (port < 0 || port > 65535) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "port out of range: " + port);
    }
  }

  /**
   * Parses {@code host:port}, {@code host} (then {@code defaultPort}), or {@code [v6]:port}.
   *
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} for anything else
   */
  public static HostPort parse(String text, int defaultPort) {
    if (text == null || text.isBlank()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "empty endpoint (expected HOST:PORT)");
    }
    String t = text.strip();
    String host;
    String port = null;
    if (t.startsWith("[")) {
      int close = t.indexOf(']');
      if (close < 0) {
        throw bad(text);
      }
      host = t.substring(1, close);
      String rest = t.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw bad(text);
        }
        port = rest.substring(1);
      }
    } else {
      int colon = t.lastIndexOf(':');
      if (colon >= 0 && t.indexOf(':') != colon) {
        throw bad(text); // a bare IPv6 literal needs brackets
      }
      host = colon < 0 ? t : t.substring(0, colon);
      port = colon < 0 ? null : t.substring(colon + 1);
    }
    if (host.isEmpty()) {
      throw bad(text);
    }
    int p = defaultPort;
    if (port != null) {
      try {
        p = Integer.parseInt(port);
      } catch (NumberFormatException e) {
        throw bad(text);
      }
      if (p < 1 || p > 65535) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "port out of range in '" + text + "'");
      }
    }
    return new HostPort(host, p);
  }

  private static VineyardException bad(String text) {
    return new VineyardException(ErrorCode.INVALID_ARGUMENT, "not an endpoint (expected HOST:PORT): '" + text + "'");
  }

  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
