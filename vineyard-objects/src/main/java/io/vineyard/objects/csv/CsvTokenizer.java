package io.vineyard.objects.csv;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * Splits a UTF-8 CSV file into records, one at a time, without decoding it.
 *
 * <p>The scanner works on bytes: the delimiter, the quote, CR and LF are ASCII and never occur
 * inside a multi-byte UTF-8 sequence, so splitting bytes is exact and text is only decoded where a
 * caller asks for it. The fields of the current record are kept unescaped in one reused byte array.
 *
 * <p>Accepted syntax: RFC 4180 with LF, CRLF or a lone CR as record end. A field that starts with a
 * quote is quoted: it may hold delimiters, line breaks and doubled quotes, and only a delimiter or
 * a record end may follow its closing quote. A quote inside an unquoted field is kept as a literal
 * character. End of input right after a record end produces no extra record.
 */
final class CsvTokenizer implements Closeable {

  private static final int BUFFER_BYTES = 1 << 16;

  private final Path file;
  private final InputStream in;
  private final int delimiter;
  private final byte[] buf = new byte[BUFFER_BYTES];
  private int pos;
  private int limit;
  private boolean eof;

  /** The unescaped bytes of all fields of the current record, back to back. */
  private byte[] rec = new byte[256];

  private int recLen;
  private int fieldCount;
  private int[] starts = new int[16];
  private int[] lengths = new int[16];
  private int[] lines = new int[16];
  private boolean[] quoted = new boolean[16];
  private boolean[] nonAscii = new boolean[16];

  /** The line number of the next byte to be read, 1-based. */
  private int line = 1;

  private int recordLine;

  /** Told the bytes of the file read so far, after each buffer; may be null. */
  private final LongConsumer bytesRead;

  private long consumed;

  private CsvTokenizer(Path file, InputStream in, char delimiter, LongConsumer bytesRead) {
    this.file = file;
    this.in = in;
    this.delimiter = delimiter;
    this.bytesRead = bytesRead;
  }

  /** Opens {@code file} and skips a leading UTF-8 byte order mark. */
  static CsvTokenizer open(Path file, char delimiter) {
    return open(file, delimiter, null);
  }

  /** Like {@link #open(Path, char)}, telling {@code bytesRead} how far the file has been read. */
  static CsvTokenizer open(Path file, char delimiter, LongConsumer bytesRead) {
    InputStream in;
    try {
      in = Files.newInputStream(file);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot open CSV file " + file + ": " + e, e);
    }
    CsvTokenizer tokenizer = new CsvTokenizer(file, in, delimiter, bytesRead);
    try {
      // fill() reads a full buffer unless the file is shorter, so a BOM is never split.
      if (tokenizer.fill()
          && tokenizer.limit >= 3
          && tokenizer.buf[0] == (byte) 0xEF
          && tokenizer.buf[1] == (byte) 0xBB
          && tokenizer.buf[2] == (byte) 0xBF) {
        tokenizer.pos = 3;
      }
    } catch (RuntimeException e) {
      tokenizer.close();
      throw e;
    }
    return tokenizer;
  }

  /**
   * Reads the next record.
   *
   * @return false at the end of the file
   * @throws VineyardException on an unterminated quoted field or text after a closing quote
   */
  boolean next() {
    fieldCount = 0;
    recLen = 0;
    recordLine = line;
    int b = read();
    if (b < 0) {
      return false;
    }
    while (true) {
      if (fieldCount == starts.length) {
        growFields();
      }
      int start = recLen;
      int fieldLine = line;
      boolean high = false;
      boolean isQuoted = b == '"';
      if (isQuoted) {
        while (true) {
          b = read();
          if (b == '"') {
            b = read();
            if (b != '"') {
              break;
            }
          } else if (b < 0) {
            throw error(fieldLine, fieldCount + 1, "quoted field is not closed at the end of file");
          } else if (b == '\n') {
            line++;
          } else if (b >= 0x80) {
            high = true;
          }
          append(b);
        }
        if (b >= 0 && b != delimiter && b != '\n' && b != '\r') {
          throw error(
              line,
              fieldCount + 1,
              "unexpected "
                  + describe(b)
                  + " after the closing quote of a quoted field"
                  + " (a quote inside a quoted field must be doubled)");
        }
      } else {
        while (b >= 0 && b != delimiter && b != '\n' && b != '\r') {
          if (b >= 0x80) {
            high = true;
          }
          append(b);
          b = read();
        }
      }
      starts[fieldCount] = start;
      lengths[fieldCount] = recLen - start;
      lines[fieldCount] = fieldLine;
      quoted[fieldCount] = isQuoted;
      nonAscii[fieldCount] = high;
      fieldCount++;
      if (b == delimiter) {
        b = read();
        continue;
      }
      if (b == '\r' && peek() == '\n') {
        pos++;
      }
      if (b >= 0) {
        line++;
      }
      return true;
    }
  }

  /** The number of fields of the current record. */
  int fieldCount() {
    return fieldCount;
  }

  /** The line on which the current record starts. */
  int recordLine() {
    return recordLine;
  }

  /** True if the current record is an empty line: one empty, unquoted field. */
  boolean isBlank() {
    return fieldCount == 1 && lengths[0] == 0 && !quoted[0];
  }

  /** The array holding the unescaped bytes of the current record's fields. */
  byte[] bytes() {
    return rec;
  }

  /** Where field {@code i} starts in {@link #bytes()}. */
  int start(int i) {
    return starts[i];
  }

  /** The length in bytes of field {@code i}. */
  int length(int i) {
    return lengths[i];
  }

  /** Whether field {@code i} was quoted. */
  boolean quoted(int i) {
    return quoted[i];
  }

  /** The line on which field {@code i} starts. */
  int line(int i) {
    return lines[i];
  }

  /**
   * Field {@code i} decoded as text.
   *
   * @throws VineyardException if it is not valid UTF-8
   */
  String text(int i) {
    checkUtf8(i);
    return new String(rec, starts[i], lengths[i], StandardCharsets.UTF_8);
  }

  /**
   * Checks that field {@code i} is valid UTF-8.
   *
   * @throws VineyardException naming the line and column if it is not
   */
  void checkUtf8(int i) {
    if (nonAscii[i] && !isValidUtf8(rec, starts[i], lengths[i])) {
      throw error(lines[i], i + 1, "invalid UTF-8 byte sequence");
    }
  }

  /** An INVALID_ARGUMENT error at a line and 1-based column of this file. */
  VineyardException error(int atLine, int column, String message) {
    return new VineyardException(
        ErrorCode.INVALID_ARGUMENT,
        file + ": line " + atLine + ", column " + column + ": " + message);
  }

  /** An INVALID_ARGUMENT error about a whole record, at the line where it starts. */
  VineyardException recordError(String message) {
    return new VineyardException(
        ErrorCode.INVALID_ARGUMENT, file + ": line " + recordLine + ": " + message);
  }

  /** The file being read. */
  Path file() {
    return file;
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      throw new VineyardException(
          ErrorCode.IO_ERROR, "cannot close CSV file " + file + ": " + e, e);
    }
  }

  private int read() {
    if (pos < limit) {
      return buf[pos++] & 0xFF;
    }
    return fill() ? buf[pos++] & 0xFF : -1;
  }

  private int peek() {
    if (pos < limit) {
      return buf[pos] & 0xFF;
    }
    return fill() ? buf[pos] & 0xFF : -1;
  }

  /** Refills the buffer; false at the end of the file. */
  private boolean fill() {
    if (eof) {
      return false;
    }
    int n;
    try {
      n = in.readNBytes(buf, 0, buf.length);
    } catch (IOException e) {
      throw new VineyardException(
          ErrorCode.IO_ERROR, "cannot read CSV file " + file + " near line " + line + ": " + e, e);
    }
    pos = 0;
    limit = n;
    consumed += n;
    if (bytesRead != null && n > 0) {
      bytesRead.accept(consumed);
    }
    if (n == 0) {
      eof = true;
      return false;
    }
    return true;
  }

  /** The longest record read: beyond it a quote was most likely left open. */
  static final int MAX_RECORD_BYTES = 64 << 20;

  private void append(int b) {
    if (recLen == rec.length) {
      if (rec.length >= MAX_RECORD_BYTES) {
        throw recordError("the record starting here is longer than 64 MiB (is a quote not closed?)");
      }
      rec = Arrays.copyOf(rec, Math.min(rec.length * 2, MAX_RECORD_BYTES));
    }
    rec[recLen++] = (byte) b;
  }

  private void growFields() {
    int n = starts.length * 2;
    starts = Arrays.copyOf(starts, n);
    lengths = Arrays.copyOf(lengths, n);
    lines = Arrays.copyOf(lines, n);
    quoted = Arrays.copyOf(quoted, n);
    nonAscii = Arrays.copyOf(nonAscii, n);
  }

  private static String describe(int b) {
    return b >= 0x20 && b < 0x7F ? "character '" + (char) b + "'" : String.format("byte 0x%02X", b);
  }

  /**
   * Whether {@code b[off, off + len)} is well-formed UTF-8 (no overlong forms, surrogates or code
   * points above U+10FFFF), per the table in the Unicode standard, section 3.9.
   */
  static boolean isValidUtf8(byte[] b, int off, int len) {
    int i = off;
    int end = off + len;
    while (i < end) {
      int c = b[i] & 0xFF;
      if (c < 0x80) {
        i++;
        continue;
      }
      int extra;
      int min = 0x80;
      int max = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        extra = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        extra = 2;
        if (c == 0xE0) {
          min = 0xA0; // overlong
        } else if (c == 0xED) {
          max = 0x9F; // surrogates
        }
      } else if (c >= 0xF0 && c <= 0xF4) {
        extra = 3;
        if (c == 0xF0) {
          min = 0x90; // overlong
        } else if (c == 0xF4) {
          max = 0x8F; // above U+10FFFF
        }
      } else {
        return false;
      }
      if (end - i <= extra) {
        return false;
      }
      int second = b[i + 1] & 0xFF;
      if (second < min || second > max) {
        return false;
      }
      for (int k = 2; k <= extra; k++) {
        int cont = b[i + k] & 0xFF;
        if (cont < 0x80 || cont > 0xBF) {
          return false;
        }
      }
      i += extra + 1;
    }
    return true;
  }
}
