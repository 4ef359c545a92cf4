package io.vineyard.internal;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;

/**
 * The one place where a {@link VineyardException} becomes a gRPC status and back. The status code
 * follows the error's meaning (so plain gRPC clients see something sensible); the exact {@link
 * ErrorCode} travels in the {@value #TRAILER} trailer.
 */
public final class GrpcErrors {

  /** Trailer carrying the numeric {@link ErrorCode}. */
  public static final String TRAILER = "vineyard-error-code";

  private static final Metadata.Key<String> CODE_KEY = Metadata.Key.of(TRAILER, Metadata.ASCII_STRING_MARSHALLER);

  private GrpcErrors() {}

  /** The gRPC status code for a Vineyard error code. */
  public static Status.Code statusCode(ErrorCode code) {
    return switch (code) {
      case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Status.Code.NOT_FOUND;
      case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
      case NOT_SEALED, ALREADY_SEALED, OBJECT_IN_USE, ILLEGAL_STATE -> Status.Code.FAILED_PRECONDITION;
      case OUT_OF_MEMORY -> Status.Code.RESOURCE_EXHAUSTED;
      case UNAVAILABLE -> Status.Code.UNAVAILABLE;
      case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
      case UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
      case IO_ERROR -> Status.Code.DATA_LOSS;
      case PROTOCOL_ERROR, INTERNAL -> Status.Code.INTERNAL;
    };
  }

  /**
   * Most bytes a status description takes on the wire: a status travels in HTTP/2 headers,
   * percent-encoded (a non-ASCII character takes up to 12 bytes), and a client refuses headers
   * over 8 KiB (grpc-java's default).
   */
  public static final int MAX_DESCRIPTION_BYTES = 2048;

  /** A status exception for the server to end a call with. */
  public static StatusException toStatus(VineyardException e) {
    Metadata trailers = new Metadata();
    trailers.put(CODE_KEY, Integer.toString(e.code().code()));
    return Status.fromCode(statusCode(e.code())).withDescription(shorten(e.reason(), MAX_DESCRIPTION_BYTES)).asException(trailers);
  }

  /**
   * {@code text} cut so that it takes at most {@code maxBytes} once percent-encoded as a status
   * description (never inside a surrogate pair), saying how long it was when cut.
   */
  public static String shorten(String text, int maxBytes) {
    if (text == null) {
      return null;
    }
    int budget = maxBytes - 40; // room for the note
    long used = 0;
    int i = 0;
    while (i < text.length()) {
      int c = text.codePointAt(i);
      int cost = c >= 0x20 && c < 0x7f && c != '%' ? 1 : 3 * (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
      if (used + cost > budget) {
        break;
      }
      used += cost;
      i += Character.charCount(c);
    }
    if (i == text.length() && used <= maxBytes) {
      return text;
    }
    return text.substring(0, i) + "... (" + text.length() + " characters)";
  }

  /** The Vineyard error a failed call stands for: from the trailer if present, else from the status. */
  public static VineyardException fromStatus(Throwable t) {
    Status status;
    Metadata trailers;
    if (t instanceof StatusRuntimeException s) {
      status = s.getStatus();
      trailers = s.getTrailers();
    } else if (t instanceof StatusException s) {
      status = s.getStatus();
      trailers = s.getTrailers();
    } else {
      status = Status.fromThrowable(t);
      trailers = Status.trailersFromThrowable(t);
    }
    String text = trailers == null ? null : trailers.get(CODE_KEY);
    ErrorCode code;
    if (text != null) {
      try {
        code = ErrorCode.fromCode(Integer.parseInt(text));
      } catch (NumberFormatException e) {
        code = fromStatusCode(status.getCode());
      }
    } else {
      code = fromStatusCode(status.getCode());
    }
    String message = status.getDescription() != null ? status.getDescription() : status.getCode().toString();
    if (text == null && status.getCause() != null) {
      message += " (" + status.getCause() + ")";
    }
    return new VineyardException(code, message, t);
  }

  static ErrorCode fromStatusCode(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, OUT_OF_RANGE -> ErrorCode.INVALID_ARGUMENT;
      case NOT_FOUND -> ErrorCode.NOT_FOUND;
      case ALREADY_EXISTS -> ErrorCode.ALREADY_EXISTS;
      // Without the daemon's trailer this is gRPC's own limit (a message too large), not the store's memory.
      case RESOURCE_EXHAUSTED -> ErrorCode.INTERNAL;
      // A deadline or a dropped connection means the daemon cannot be reached in time.
      case UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED -> ErrorCode.UNAVAILABLE;
      case PERMISSION_DENIED -> ErrorCode.PERMISSION_DENIED;
      case UNAUTHENTICATED -> ErrorCode.UNAUTHENTICATED;
      case DATA_LOSS -> ErrorCode.IO_ERROR;
      default -> ErrorCode.INTERNAL;
    };
  }

  /** Whether a failed call was ended by a Vineyard daemon (it carries the error-code trailer). */
  public static boolean fromDaemon(Throwable t) {
    Metadata trailers = Status.trailersFromThrowable(t);
    return trailers != null && trailers.containsKey(CODE_KEY);
  }

  /**
   * The innermost cause of a transport failure in a few words, e.g. {@code Connection refused}
   * rather than Netty's {@code finishConnect(..) failed with error(-111): Connection refused: /h:p}.
   */
  public static String rootCause(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.getMessage();
    if (m == null || m.isBlank()) {
      return root.getClass().getSimpleName();
    }
    int errno = m.indexOf("): ");
    if (m.startsWith("finishConnect(") && errno > 0) {
      m = m.substring(errno + 3);
    }
    int addr = m.lastIndexOf(": /");
    return addr > 0 ? m.substring(0, addr) : m;
  }
}
