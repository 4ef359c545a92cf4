package io.vineyard;

/**
 * What went wrong, as one stable code carried by {@link VineyardException}, over the wire and (in
 * the CLI) as the process exit status.
 */
public enum ErrorCode {
  /** A request is malformed or an argument is out of range. */
  INVALID_ARGUMENT(1),
  /** No object, blob or name with that identity (or it was deleted). */
  NOT_FOUND(2),
  /** The name or object already exists. */
  ALREADY_EXISTS(3),
  /** The blob has not been sealed yet, so it cannot be read. */
  NOT_SEALED(4),
  /** The blob was sealed already; sealed data never changes. */
  ALREADY_SEALED(5),
  /** The store cannot hold the requested bytes. */
  OUT_OF_MEMORY(6),
  /** The object is still referenced by another object (delete without force). */
  OBJECT_IN_USE(7),
  /** The peer broke the protocol (bad frame, wrong order, unknown request). */
  PROTOCOL_ERROR(8),
  /** The daemon (or a service it needs) cannot be reached. */
  UNAVAILABLE(9),
  /** An I/O operation failed. */
  IO_ERROR(10),
  /** The request needs a permission the caller lacks. */
  PERMISSION_DENIED(11),
  /** A bug or an unexpected state. */
  INTERNAL(12),
  /**
   * The API was used in a state that does not allow the call: a handle used after it was closed or
   * sealed, a client closed with handles still open (a leak in the caller), a blocking call made
   * from the thread that reads the connection's replies. Raised by the client, never by the daemon.
   */
  ILLEGAL_STATE(13),
  /**
   * The caller could not be authenticated: no bearer token or a wrong one on the gRPC port, a
   * certificate the other side does not trust, or one side speaking TLS and the other not.
   */
  UNAUTHENTICATED(14);

  private final int code;

  ErrorCode(int code) {
    this.code = code;
  }

  /** The stable number of this code on the wire. */
  public int code() {
    return code;
  }

  /** The code with that number; {@link #INTERNAL} for numbers this version does not know. */
  public static ErrorCode fromCode(int code) {
    for (ErrorCode c : values()) {
      if (c.code == code) {
        return c;
      }
    }
    return INTERNAL;
  }
}
