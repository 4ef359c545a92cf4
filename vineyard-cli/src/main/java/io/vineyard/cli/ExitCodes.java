package io.vineyard.cli;

import io.vineyard.ErrorCode;

/** The exit status of {@code vineyardctl}, one per class of failure (see docs/cli.md). */
public final class ExitCodes {

  public static final int OK = 0;
  /** Anything not covered below. */
  public static final int OTHER = 1;
  /** Bad usage or a bad argument (picocli's usage errors use this code too). */
  public static final int INVALID_ARGUMENT = 2;
  /** No object, blob or name by that id or name. */
  public static final int NOT_FOUND = 3;
  /** The daemon cannot be reached. */
  public static final int CANNOT_CONNECT = 4;
  /** The store cannot hold the data. */
  public static final int OUT_OF_MEMORY = 5;
  /** Not let in: no or a wrong token, an untrusted certificate, TLS on one side only. */
  public static final int UNAUTHENTICATED = 6;

  private ExitCodes() {}

  /** The exit status for a failure with this code. */
  public static int of(ErrorCode code) {
    return switch (code) {
      case INVALID_ARGUMENT -> INVALID_ARGUMENT;
      case NOT_FOUND -> NOT_FOUND;
      case UNAVAILABLE -> CANNOT_CONNECT;
      case OUT_OF_MEMORY -> OUT_OF_MEMORY;
      case UNAUTHENTICATED -> UNAUTHENTICATED;
      // ILLEGAL_STATE (a misuse of the client API, a bug in the tool) and the rest.
      default -> OTHER;
    };
  }
}
