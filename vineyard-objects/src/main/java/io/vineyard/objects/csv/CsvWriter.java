package io.vineyard.objects.csv;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DateMilliVector;
import org.apache.arrow.vector.Decimal256Vector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.LargeVarBinaryVector;
import org.apache.arrow.vector.LargeVarCharVector;
import org.apache.arrow.vector.TimeMicroVector;
import org.apache.arrow.vector.TimeMilliVector;
import org.apache.arrow.vector.TimeNanoVector;
import org.apache.arrow.vector.TimeSecVector;
import org.apache.arrow.vector.TimeStampVector;
import org.apache.arrow.vector.UInt8Vector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ViewVarBinaryVector;
import org.apache.arrow.vector.ViewVarCharVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * Writes a {@link VectorSchemaRoot} as CSV text that {@link CsvReader} reads back.
 *
 * <h2>Syntax</h2>
 *
 * One line per row, LF line ends, fields separated by the delimiter of the options. A null is an
 * empty field; a non-null value is quoted (quotes doubled) if it is empty, contains the delimiter,
 * a quote, CR or LF, or starts or ends with white space, so {@code ""} is the empty string. Column
 * names in the header follow the same rule.
 *
 * <h2>Value text</h2>
 *
 * <ul>
 *   <li>integers of every width in decimal, unsigned types as unsigned; Bool as {@code true}/{@code
 *       false};
 *   <li>floating point (half, single, double) as {@link Float#toString}/{@link Double#toString};
 *   <li>Decimal and Decimal256 as {@link java.math.BigDecimal#toPlainString};
 *   <li>Date (day or millisecond) as {@code yyyy-MM-dd};
 *   <li>Time as {@code HH:mm:ss} with as many fraction digits as the unit has (none, 3, 6 or 9);
 *   <li>Timestamp without time zone as {@code yyyy-MM-dd'T'HH:mm:ss} with the unit's fraction
 *       digits, e.g. {@code 2024-01-02T03:04:05.123456} for microseconds; with a time zone the same
 *       local date-time in that zone followed by its offset ({@code Z} for UTC, else e.g. {@code
 *       +01:00});
 *   <li>Duration and Interval as the {@code toString} of their Java value ({@link
 *       java.time.Duration}, {@link java.time.Period}, {@link
 *       org.apache.arrow.vector.PeriodDuration});
 *   <li>Utf8, LargeUtf8 and Utf8View as their text; Binary, LargeBinary, FixedSizeBinary and
 *       BinaryView as standard Base64; the Null type as an empty field;
 *   <li>nested types (List, LargeList, FixedSizeList, ListView, Struct, Map, Union) and any other
 *       type as the {@code toString} of {@code vector.getObject(row)}, which is JSON-like for
 *       nested values;
 *   <li>dictionary-encoded columns as the decoded dictionary value, formatted by the rules above.
 * </ul>
 */
public final class CsvWriter {

  /** Characters buffered before a write to {@code out}. */
  private static final int FLUSH_CHARS = 1 << 16;

  private static final long NANOS_PER_SECOND = 1_000_000_000L;
  private static final long SECONDS_PER_DAY = 86_400L;

  private CsvWriter() {}

  /** Appends the text of one value, or returns false for null. */
  @FunctionalInterface
  private interface ValueFormatter {
    boolean format(int row, StringBuilder text);
  }

  /** Appends the text of a value known to be non-null. */
  @FunctionalInterface
  private interface ValueAppender {
    void append(int row, StringBuilder text);
  }

  /**
   * Writes the header line (column names) when {@code header} is true, then one line per row of
   * {@code root}. {@code out} is neither flushed nor closed.
   *
   * @param root the rows to write
   * @param provider the dictionaries of dictionary-encoded columns; may be null if there are none
   * @param out where the text goes
   * @param header whether to write the column names first
   * @param options the delimiter is used, the batch size is not
   * @throws IOException if {@code out} fails
   * @throws VineyardException with {@link ErrorCode#INVALID_ARGUMENT} if a dictionary is missing, a
   *     dictionary index is out of range, a time zone is unknown, or a date or time value is out of
   *     range (naming the row and column)
   */
  public static void write(
      VectorSchemaRoot root,
      DictionaryProvider provider,
      Writer out,
      boolean header,
      CsvOptions options)
      throws IOException {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(options, "options");
    char delimiter = options.delimiter();
    List<FieldVector> vectors = root.getFieldVectors();
    int columns = vectors.size();
    // Build every formatter before writing, so a missing dictionary fails without partial output.
    ValueFormatter[] formatters = new ValueFormatter[columns];
    for (int c = 0; c < columns; c++) {
      formatters[c] = formatter(vectors.get(c), provider, c);
    }
    StringBuilder line = new StringBuilder(256);
    StringBuilder value = new StringBuilder(64);
    if (header) {
      for (int c = 0; c < columns; c++) {
        if (c > 0) {
          line.append(delimiter);
        }
        appendField(line, vectors.get(c).getField().getName(), delimiter);
      }
      line.append('\n');
    }
    int rows = root.getRowCount();
    for (int row = 0; row < rows; row++) {
      for (int c = 0; c < columns; c++) {
        if (c > 0) {
          line.append(delimiter);
        }
        value.setLength(0);
        boolean present;
        try {
          present = formatters[c].format(row, value);
        } catch (DateTimeException | ArithmeticException e) {
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT,
              "row " + row + ", column " + (c + 1) + " ('" + name(vectors.get(c)) + "'): " + e,
              e);
        }
        if (present) {
          appendField(line, value, delimiter);
        }
      }
      line.append('\n');
      if (line.length() >= FLUSH_CHARS) {
        out.append(line);
        line.setLength(0);
      }
    }
    out.append(line);
  }

  /** Appends a non-null value, quoted if reading it back would otherwise change it. */
  private static void appendField(StringBuilder line, CharSequence text, char delimiter) {
    if (!needsQuotes(text, delimiter)) {
      line.append(text);
      return;
    }
    line.append('"');
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      if (ch == '"') {
        line.append('"');
      }
      line.append(ch);
    }
    line.append('"');
  }

  private static boolean needsQuotes(CharSequence text, char delimiter) {
    int n = text.length();
    // Empty must be quoted to differ from null; edge white space to survive trimming readers.
    if (n == 0 || isSpace(text.charAt(0)) || isSpace(text.charAt(n - 1))) {
      return true;
    }
    for (int i = 0; i < n; i++) {
      char ch = text.charAt(i);
      if (ch == delimiter || ch == '"' || ch == '\n' || ch == '\r') {
        return true;
      }
    }
    return false;
  }

  private static boolean isSpace(char ch) {
    return Character.isWhitespace(ch) || Character.isSpaceChar(ch);
  }

  private static String name(FieldVector vector) {
    return vector.getField().getName();
  }

  private static ValueFormatter formatter(
      FieldVector vector, DictionaryProvider provider, int column) {
    DictionaryEncoding encoding = vector.getField().getDictionary();
    if (encoding == null) {
      return plainFormatter(vector, column);
    }
    String where = "column " + (column + 1) + " ('" + name(vector) + "')";
    if (!(vector instanceof BaseIntVector indices)) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          where
              + " is dictionary-encoded but its indices are not integers: "
              + vector.getMinorType());
    }
    Dictionary dictionary = provider == null ? null : provider.lookup(encoding.getId());
    if (dictionary == null) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          where
              + " is dictionary-encoded with dictionary id "
              + encoding.getId()
              + ", but "
              + (provider == null ? "no dictionary provider was given" : "the provider lacks it"));
    }
    FieldVector values = dictionary.getVector();
    ValueFormatter decoded = plainFormatter(values, column);
    return (row, text) -> {
      if (vector.isNull(row)) {
        return false;
      }
      long index = indices.getValueAsLong(row);
      int size = values.getValueCount();
      if (index < 0 || index >= size) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT,
            "row "
                + row
                + ", "
                + where
                + ": dictionary index "
                + index
                + " is out of range [0, "
                + size
                + ")");
      }
      return decoded.format((int) index, text);
    };
  }

  private static ValueFormatter plainFormatter(FieldVector vector, int column) {
    return switch (vector.getMinorType()) {
      case NULL -> (row, text) -> false;
      case TINYINT, SMALLINT, INT, BIGINT, UINT1, UINT2, UINT4 -> {
        // getValueAsLong widens the unsigned types below 64 bits without sign extension.
        BaseIntVector v = (BaseIntVector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.getValueAsLong(row)));
      }
      case UINT8 -> {
        UInt8Vector v = (UInt8Vector) vector;
        yield nonNull(vector, (row, text) -> text.append(Long.toUnsignedString(v.get(row))));
      }
      case FLOAT2 -> {
        Float2Vector v = (Float2Vector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.getValueAsFloat(row)));
      }
      case FLOAT4 -> {
        Float4Vector v = (Float4Vector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.get(row)));
      }
      case FLOAT8 -> {
        Float8Vector v = (Float8Vector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.get(row)));
      }
      case BIT -> {
        BitVector v = (BitVector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.get(row) != 0));
      }
      case DECIMAL -> {
        DecimalVector v = (DecimalVector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.getObject(row).toPlainString()));
      }
      case DECIMAL256 -> {
        Decimal256Vector v = (Decimal256Vector) vector;
        yield nonNull(vector, (row, text) -> text.append(v.getObject(row).toPlainString()));
      }
      case DATEDAY -> {
        DateDayVector v = (DateDayVector) vector;
        yield nonNull(vector, (row, text) -> text.append(LocalDate.ofEpochDay(v.get(row))));
      }
      case DATEMILLI -> {
        DateMilliVector v = (DateMilliVector) vector;
        yield nonNull(
            vector,
            (row, text) ->
                text.append(LocalDate.ofEpochDay(Math.floorDiv(v.get(row), 86_400_000L))));
      }
      case TIMESEC -> {
        TimeSecVector v = (TimeSecVector) vector;
        yield nonNull(vector, (row, text) -> appendTime(text, v.get(row) * NANOS_PER_SECOND, 0));
      }
      case TIMEMILLI -> {
        TimeMilliVector v = (TimeMilliVector) vector;
        yield nonNull(vector, (row, text) -> appendTime(text, v.get(row) * 1_000_000L, 3));
      }
      case TIMEMICRO -> {
        TimeMicroVector v = (TimeMicroVector) vector;
        yield nonNull(vector, (row, text) -> appendTime(text, v.get(row) * 1_000L, 6));
      }
      case TIMENANO -> {
        TimeNanoVector v = (TimeNanoVector) vector;
        yield nonNull(vector, (row, text) -> appendTime(text, v.get(row), 9));
      }
      case TIMESTAMPSEC,
          TIMESTAMPMILLI,
          TIMESTAMPMICRO,
          TIMESTAMPNANO,
          TIMESTAMPSECTZ,
          TIMESTAMPMILLITZ,
          TIMESTAMPMICROTZ,
          TIMESTAMPNANOTZ ->
          timestampFormatter((TimeStampVector) vector, column);
      case VARCHAR -> {
        VarCharVector v = (VarCharVector) vector;
        yield nonNull(vector, (row, text) -> text.append(utf8(v.get(row))));
      }
      case LARGEVARCHAR -> {
        LargeVarCharVector v = (LargeVarCharVector) vector;
        yield nonNull(vector, (row, text) -> text.append(utf8(v.get(row))));
      }
      case VIEWVARCHAR -> {
        ViewVarCharVector v = (ViewVarCharVector) vector;
        yield nonNull(vector, (row, text) -> text.append(utf8(v.get(row))));
      }
      case VARBINARY -> {
        VarBinaryVector v = (VarBinaryVector) vector;
        yield nonNull(vector, (row, text) -> text.append(base64(v.get(row))));
      }
      case LARGEVARBINARY -> {
        LargeVarBinaryVector v = (LargeVarBinaryVector) vector;
        yield nonNull(vector, (row, text) -> text.append(base64(v.get(row))));
      }
      case VIEWVARBINARY -> {
        ViewVarBinaryVector v = (ViewVarBinaryVector) vector;
        yield nonNull(vector, (row, text) -> text.append(base64(v.get(row))));
      }
      case FIXEDSIZEBINARY -> {
        FixedSizeBinaryVector v = (FixedSizeBinaryVector) vector;
        yield nonNull(vector, (row, text) -> text.append(base64(v.get(row))));
      }
      // Duration, Interval, nested types and anything newer: the Java value's own text.
      default ->
          (row, text) -> {
            if (vector.isNull(row)) {
              return false;
            }
            Object object = vector.getObject(row);
            if (object == null) {
              return false;
            }
            text.append(object);
            return true;
          };
    };
  }

  /** Adds the null check to an appender of non-null values. */
  private static ValueFormatter nonNull(FieldVector vector, ValueAppender present) {
    return (row, text) -> {
      if (vector.isNull(row)) {
        return false;
      }
      present.append(row, text);
      return true;
    };
  }

  private static ValueFormatter timestampFormatter(TimeStampVector vector, int column) {
    Field field = vector.getField();
    ArrowType.Timestamp type = (ArrowType.Timestamp) field.getType();
    int digits;
    long unitsPerSecond;
    switch (type.getUnit()) {
      case SECOND -> {
        digits = 0;
        unitsPerSecond = 1;
      }
      case MILLISECOND -> {
        digits = 3;
        unitsPerSecond = 1_000;
      }
      case MICROSECOND -> {
        digits = 6;
        unitsPerSecond = 1_000_000;
      }
      default -> {
        digits = 9;
        unitsPerSecond = NANOS_PER_SECOND;
      }
    }
    long nanosPerUnit = NANOS_PER_SECOND / unitsPerSecond;
    String timezone = type.getTimezone();
    if (timezone == null) {
      return nonNull(
          vector,
          (row, text) -> {
            long value = vector.get(row);
            appendDateTime(
                text,
                Math.floorDiv(value, unitsPerSecond),
                Math.floorMod(value, unitsPerSecond) * nanosPerUnit,
                digits);
          });
    }
    ZoneId zone;
    try {
      zone = ZoneId.of(timezone);
    } catch (DateTimeException e) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "column "
              + (column + 1)
              + " ('"
              + field.getName()
              + "') has unknown time zone '"
              + timezone
              + "'",
          e);
    }
    return nonNull(
        vector,
        (row, text) -> {
          long value = vector.get(row);
          long seconds = Math.floorDiv(value, unitsPerSecond);
          ZoneOffset offset = zone.getRules().getOffset(Instant.ofEpochSecond(seconds));
          appendDateTime(
              text,
              seconds + offset.getTotalSeconds(),
              Math.floorMod(value, unitsPerSecond) * nanosPerUnit,
              digits);
          text.append(offset.getId());
        });
  }

  /** Appends {@code yyyy-MM-dd'T'HH:mm:ss[.fraction]} for seconds since the epoch (as UTC). */
  private static void appendDateTime(
      StringBuilder text, long epochSeconds, long nanos, int digits) {
    text.append(LocalDate.ofEpochDay(Math.floorDiv(epochSeconds, SECONDS_PER_DAY))).append('T');
    appendTime(
        text, Math.floorMod(epochSeconds, SECONDS_PER_DAY) * NANOS_PER_SECOND + nanos, digits);
  }

  /**
   * Appends {@code HH:mm:ss} and, if {@code digits > 0}, that many fraction digits.
   *
   * @throws DateTimeException if the value is not within one day
   */
  private static void appendTime(StringBuilder text, long nanoOfDay, int digits) {
    if (nanoOfDay < 0 || nanoOfDay >= SECONDS_PER_DAY * NANOS_PER_SECOND) {
      throw new DateTimeException("time of day out of range: " + nanoOfDay + " ns");
    }
    long seconds = nanoOfDay / NANOS_PER_SECOND;
    appendTwoDigits(text, seconds / 3600);
    text.append(':');
    appendTwoDigits(text, seconds / 60 % 60);
    text.append(':');
    appendTwoDigits(text, seconds % 60);
    if (digits > 0) {
      String fraction = Long.toString(nanoOfDay % NANOS_PER_SECOND + NANOS_PER_SECOND);
      // fraction is "1" and nine digits; keep the first `digits` of the nine.
      text.append('.').append(fraction, 1, 1 + digits);
    }
  }

  private static void appendTwoDigits(StringBuilder text, long value) {
    if (value < 10) {
      text.append('0');
    }
    text.append(value);
  }

  private static String utf8(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  private static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }
}
