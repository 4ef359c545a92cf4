package io.vineyard.server.records;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;

/**
 * A persisted value this daemon cannot read: not a record at all, a format version it does not know
 * (written by a newer daemon), a body that does not parse, or a record of another kind than the key
 * holds. Its code is {@link ErrorCode#IO_ERROR} (gRPC {@code DATA_LOSS}): the value is there, but
 * its content is lost to this daemon.
 */
public final class UnreadableRecordException extends VineyardException {

  /** Why the value cannot be read. */
  public enum Reason {
    /** No record header: not written by {@link RecordCodec} (e.g. by a daemon before format 1). */
    NOT_A_RECORD,
    /** A format version this daemon does not read. */
    UNKNOWN_VERSION,
    /** The header is fine, the body is not. */
    CORRUPT,
    /** A well-formed record, but not of the kind expected there. */
    WRONG_KIND
  }

  private final Reason why;

  UnreadableRecordException(Reason why, String message, Throwable cause) {
    super(ErrorCode.IO_ERROR, message, cause);
    this.why = why;
  }

  public Reason why() {
    return why;
  }
}
