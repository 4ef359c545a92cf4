package io.vineyard;

/** The one exception of the Vineyard API: an {@link ErrorCode} and a message. */
public class VineyardException extends RuntimeException {

  private final ErrorCode code;

  public VineyardException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public VineyardException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  @Override
  public String getMessage() {
    return code + ": " + super.getMessage();
  }

  /** The message without the code prefix. */
  public String reason() {
    return super.getMessage();
  }
}
