package io.vineyard.objects.csv;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;

/**
 * Options shared by {@link CsvReader} and {@link CsvWriter}.
 *
 * @param delimiter the field separator; an ASCII character other than the quote {@code "}, CR and
 *     LF (the reader scans UTF-8 bytes, so the delimiter must be a single byte)
 * @param batchRows the most rows {@link CsvReader#read} puts into one batch; positive
 */
public record CsvOptions(char delimiter, int batchRows) {

  /** The default field separator. */
  public static final char DEFAULT_DELIMITER = ',';

  /** The default batch size in rows. */
  public static final int DEFAULT_BATCH_ROWS = 65536;

  private static final CsvOptions DEFAULTS = new CsvOptions(DEFAULT_DELIMITER, DEFAULT_BATCH_ROWS);

  /**
   * Checks the options.
   *
   * @throws VineyardException with {@link ErrorCode#INVALID_ARGUMENT} if the delimiter is not a
   *     usable ASCII character or {@code batchRows} is not positive
   */
  public CsvOptions {
    if (delimiter >= 0x80 || delimiter == '"' || delimiter == '\r' || delimiter == '\n') {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          String.format(
              "CSV delimiter must be an ASCII character other than quote, CR and LF, got U+%04X",
              (int) delimiter));
    }
    if (batchRows <= 0) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "CSV batchRows must be positive, got " + batchRows);
    }
  }

  /** Comma-separated, 65536 rows per batch. */
  public static CsvOptions defaults() {
    return DEFAULTS;
  }

  /** These options with another delimiter. */
  public CsvOptions withDelimiter(char newDelimiter) {
    return new CsvOptions(newDelimiter, batchRows);
  }

  /** These options with another batch size. */
  public CsvOptions withBatchRows(int newBatchRows) {
    return new CsvOptions(delimiter, newBatchRows);
  }
}
