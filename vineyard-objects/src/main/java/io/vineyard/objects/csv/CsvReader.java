package io.vineyard.objects.csv;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongConsumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.DateUnit;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Reads UTF-8 CSV files into Arrow vectors in two passes: {@link #inferSchema} scans the whole file
 * to pick a type per column, {@link #read} streams the file into batches of that schema.
 *
 * <h2>Syntax</h2>
 *
 * RFC 4180: a leading byte order mark is skipped; records end with LF, CRLF (or a lone CR); a field
 * that starts with a quote may contain the delimiter, line breaks and doubled quotes {@code ""}.
 * The first record is the header and gives the column names exactly as written; names must be
 * non-empty and distinct. Every other record must have as many fields as the header, except that
 * empty lines are skipped in files with more than one column (in a one-column file an empty line is
 * a null value, which is how {@link CsvWriter} writes one). A file ending with a line break does
 * not have an extra empty record.
 *
 * <h2>Nulls</h2>
 *
 * An empty unquoted field is null. A quoted empty field {@code ""} is the empty string in a Utf8
 * column and null in columns of other types. All columns are nullable.
 *
 * <h2>Type inference</h2>
 *
 * Each column gets the first type of this list that accepts every non-null value in it:
 *
 * <ol>
 *   <li>Bool: {@code true} or {@code false}, in any letter case;
 *   <li>Int64: an optional sign and decimal digits within the range of a long, without a leading
 *       zero ({@code 007} and zip codes like {@code 02134} are text);
 *   <li>Float64: decimal text that {@link Double#parseDouble} accepts, including {@code NaN},
 *       {@code Infinity}, {@code -Infinity} and exponents (but not Java's {@code d}/{@code f}
 *       suffixes, hexadecimal, surrounding whitespace, leading zeros, or values beyond the double
 *       range such as {@code 1e400}); a column mixing integers and floats is
 *       Float64;
 *   <li>Date (day unit): {@code yyyy-MM-dd};
 *   <li>Timestamp (microsecond unit, no time zone): {@code yyyy-MM-dd'T'HH:mm[:ss[.ffffff]]}, with
 *       'T' or a space and up to 6 fraction digits; a column mixing dates and timestamps is a
 *       Timestamp column, the dates being midnight;
 *   <li>Utf8: anything else, and columns that hold only nulls (or have no rows).
 * </ol>
 *
 * Quoting does not change the type: {@code "42"} counts as an integer.
 */
public final class CsvReader {

  // Small, so that a file with thousands of columns does not reserve megabytes per column up front.
  private static final int INITIAL_CAPACITY = 64;
  private static final int MAX_SHOWN_CHARS = 60;

  private CsvReader() {}

  /** Receives each batch read by {@link CsvReader#read}. */
  @FunctionalInterface
  public interface BatchSink {

    /**
     * Consumes one batch. The root and its vectors are reused for the next batch once this returns,
     * so a sink that keeps data must copy it or transfer the buffers out.
     *
     * @param batch the rows of this batch; its row count is between 1 and the batch size
     * @throws IOException to stop reading; {@link CsvReader#read} rethrows it as a {@link
     *     VineyardException} with {@link ErrorCode#IO_ERROR}
     */
    void accept(VectorSchemaRoot batch) throws IOException;
  }

  /** The types inference can choose, from narrowest to widest. */
  private enum Kind {
    /** No non-null value seen yet; becomes Utf8 at the end. */
    NULL("Utf8", ArrowType.Utf8.INSTANCE),
    BOOL("Bool", ArrowType.Bool.INSTANCE),
    INT64("Int64", new ArrowType.Int(64, true)),
    FLOAT64("Float64", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
    DATE("Date", new ArrowType.Date(DateUnit.DAY)),
    TIMESTAMP("Timestamp", new ArrowType.Timestamp(TimeUnit.MICROSECOND, null)),
    UTF8("Utf8", ArrowType.Utf8.INSTANCE);

    final String label;
    final ArrowType type;

    Kind(String label, ArrowType type) {
      this.label = label;
      this.type = type;
    }

    /** The narrowest kind that accepts both the values seen so far and this (non-empty) value. */
    Kind widen(CsvValueParser p, byte[] b, int off, int len) {
      return switch (this) {
        case NULL -> classify(p, b, off, len);
        case BOOL -> p.parseBool(b, off, len) ? BOOL : UTF8;
        case INT64 -> p.parseLong(b, off, len) ? INT64 : p.isDouble(b, off, len) ? FLOAT64 : UTF8;
        case FLOAT64 -> p.isDouble(b, off, len) ? FLOAT64 : UTF8;
        case DATE ->
            p.parseDate(b, off, len) ? DATE : p.parseTimestamp(b, off, len) ? TIMESTAMP : UTF8;
        case TIMESTAMP ->
            p.parseTimestamp(b, off, len) || p.parseDate(b, off, len) ? TIMESTAMP : UTF8;
        case UTF8 -> UTF8;
      };
    }

    private static Kind classify(CsvValueParser p, byte[] b, int off, int len) {
      if (p.parseBool(b, off, len)) {
        return BOOL;
      } else if (p.parseLong(b, off, len)) {
        return INT64;
      } else if (p.isDouble(b, off, len)) {
        return FLOAT64;
      } else if (p.parseDate(b, off, len)) {
        return DATE;
      } else if (p.parseTimestamp(b, off, len)) {
        return TIMESTAMP;
      }
      return UTF8;
    }

    /** The kind that loads a field of this type, or null if {@link #read} cannot load it. */
    static Kind of(ArrowType type) {
      for (Kind kind : values()) {
        if (kind != NULL && kind.type.equals(type)) {
          return kind;
        }
      }
      return null;
    }
  }

  /**
   * Infers a schema by reading the whole file once: the header gives the column names, every value
   * narrows the column types as described in the {@linkplain CsvReader class documentation}. All
   * fields are nullable.
   *
   * @param file a UTF-8 CSV file with a header line
   * @param options the delimiter is used, the batch size is not
   * @return one field per header column, in file order
   * @throws VineyardException with {@link ErrorCode#INVALID_ARGUMENT} if the file is empty, a
   *     header name is empty or repeated, a record has the wrong number of fields or a quote is not
   *     closed (naming the line and column), or {@link ErrorCode#IO_ERROR} if the file cannot be
   *     read
   */
  public static Schema inferSchema(Path file, CsvOptions options) {
    return inferSchema(file, options, null);
  }

  /**
   * Like {@link #inferSchema(Path, CsvOptions)}, telling {@code bytesRead} (if not null) how many
   * bytes of the file have been read so far, after every 64 KiB.
   */
  public static Schema inferSchema(Path file, CsvOptions options, LongConsumer bytesRead) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(options, "options");
    try (CsvTokenizer tok = CsvTokenizer.open(file, options.delimiter(), bytesRead)) {
      String[] names = readHeader(tok);
      int columns = names.length;
      Kind[] kinds = new Kind[columns];
      Arrays.fill(kinds, Kind.NULL);
      CsvValueParser parser = new CsvValueParser();
      while (tok.next()) {
        if (!checkRecord(tok, columns)) {
          continue;
        }
        byte[] bytes = tok.bytes();
        for (int c = 0; c < columns; c++) {
          int len = tok.length(c);
          // Empty fields, quoted or not, are nulls for typing; Utf8 never narrows again.
          if (len != 0 && kinds[c] != Kind.UTF8) {
            kinds[c] = kinds[c].widen(parser, bytes, tok.start(c), len);
          }
        }
      }
      List<Field> fields = new ArrayList<>(columns);
      for (int c = 0; c < columns; c++) {
        fields.add(Field.nullable(names[c], kinds[c].type));
      }
      return new Schema(fields);
    }
  }

  /**
   * Reads the file into batches of {@code schema}, streaming: at most one batch and one record are
   * in memory at a time. One {@link VectorSchemaRoot} is allocated from {@code allocator}, filled
   * with up to {@link CsvOptions#batchRows()} rows (value counts and row count set), handed to
   * {@code sink}, then reset and refilled with the next rows. The sink is not called for a file
   * without data rows. The root is closed before this returns or throws.
   *
   * <p>{@code schema} is usually the result of {@link #inferSchema}: its field names must equal the
   * header in number and order, and every field must have one of the types inference produces
   * (Bool, Int64, Float64, Date in days, Timestamp in microseconds without time zone, Utf8).
   *
   * @param file a UTF-8 CSV file with a header line
   * @param schema the schema of the batches
   * @param options the delimiter and the batch size
   * @param allocator where the batch buffers come from
   * @param sink receives each batch in file order
   * @return the number of rows read
   * @throws VineyardException with {@link ErrorCode#INVALID_ARGUMENT} if the schema does not match
   *     the header or has an unsupported type, a value does not parse as its column's type, a
   *     non-nullable column has a null, or the file is malformed (naming the line and column); with
   *     {@link ErrorCode#IO_ERROR} if the file cannot be read or the sink throws IOException
   */
  public static long read(
      Path file, Schema schema, CsvOptions options, BufferAllocator allocator, BatchSink sink) {
    return read(file, schema, options, allocator, sink, null);
  }

  /**
   * Like {@link #read(Path, Schema, CsvOptions, BufferAllocator, BatchSink)}, telling {@code
   * bytesRead} (if not null) how many bytes of the file have been read so far, after every 64 KiB.
   */
  public static long read(
      Path file, Schema schema, CsvOptions options, BufferAllocator allocator, BatchSink sink, LongConsumer bytesRead) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(schema, "schema");
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(allocator, "allocator");
    Objects.requireNonNull(sink, "sink");
    List<Field> fields = schema.getFields();
    int columns = fields.size();
    Kind[] kinds = new Kind[columns];
    for (int c = 0; c < columns; c++) {
      Field field = fields.get(c);
      kinds[c] = field.getDictionary() == null ? Kind.of(field.getType()) : null;
      if (kinds[c] == null) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT,
            "schema column "
                + (c + 1)
                + " ('"
                + field.getName()
                + "') has type "
                + field.getType()
                + (field.getDictionary() == null ? "" : " with a dictionary")
                + ", which CsvReader cannot load; supported are Bool, Int64, Float64,"
                + " Date(DAY), Timestamp(MICROSECOND) without time zone and Utf8");
      }
    }
    try (CsvTokenizer tok = CsvTokenizer.open(file, options.delimiter(), bytesRead)) {
      String[] names = readHeader(tok);
      if (names.length != columns) {
        throw tok.recordError(
            "the header has " + names.length + " columns but the schema has " + columns);
      }
      for (int c = 0; c < columns; c++) {
        if (!names[c].equals(fields.get(c).getName())) {
          throw tok.error(
              tok.line(c),
              c + 1,
              "the header names the column '"
                  + names[c]
                  + "' but the schema names it '"
                  + fields.get(c).getName()
                  + "'");
        }
      }
      try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator)) {
        return load(tok, root, names, kinds, options.batchRows(), sink);
      }
    }
  }

  private static long load(
      CsvTokenizer tok,
      VectorSchemaRoot root,
      String[] names,
      Kind[] kinds,
      int batchRows,
      BatchSink sink) {
    int columns = kinds.length;
    FieldVector[] vectors = root.getFieldVectors().toArray(new FieldVector[0]);
    boolean[] nullable = new boolean[columns];
    for (int c = 0; c < columns; c++) {
      nullable[c] = vectors[c].getField().isNullable();
      // setSafe grows the buffers when a batch needs more; a small start suits small files.
      vectors[c].setInitialCapacity(Math.min(batchRows, INITIAL_CAPACITY));
      vectors[c].allocateNew();
    }
    CsvValueParser parser = new CsvValueParser();
    long total = 0;
    int row = 0;
    while (tok.next()) {
      if (!checkRecord(tok, columns)) {
        continue;
      }
      byte[] bytes = tok.bytes();
      for (int c = 0; c < columns; c++) {
        int off = tok.start(c);
        int len = tok.length(c);
        Kind kind = kinds[c];
        if (len == 0 && !(kind == Kind.UTF8 && tok.quoted(c))) {
          if (!nullable[c]) {
            throw tok.error(
                tok.line(c),
                c + 1,
                "column '" + names[c] + "' is not nullable but the field is empty");
          }
          vectors[c].setNull(row);
          continue;
        }
        switch (kind) {
          case BOOL -> {
            if (!parser.parseBool(bytes, off, len)) {
              throw valueError(tok, c, names[c], kind);
            }
            ((BitVector) vectors[c]).setSafe(row, parser.boolValue ? 1 : 0);
          }
          case INT64 -> {
            if (!parser.parseLong(bytes, off, len)) {
              throw valueError(tok, c, names[c], kind);
            }
            ((BigIntVector) vectors[c]).setSafe(row, parser.longValue);
          }
          case FLOAT64 -> {
            if (!parser.isDouble(bytes, off, len)) {
              throw valueError(tok, c, names[c], kind);
            }
            ((Float8Vector) vectors[c]).setSafe(row, parser.parseDouble(bytes, off, len));
          }
          case DATE -> {
            if (!parser.parseDate(bytes, off, len)) {
              throw valueError(tok, c, names[c], kind);
            }
            ((DateDayVector) vectors[c]).setSafe(row, (int) parser.longValue);
          }
          case TIMESTAMP -> {
            if (!parser.parseTimestamp(bytes, off, len) && !parser.parseDate(bytes, off, len)) {
              throw valueError(tok, c, names[c], kind);
            }
            // parseDate leaves the epoch day: a date alone is midnight.
            long micros = len == 10 ? parser.longValue * 86_400_000_000L : parser.longValue;
            ((TimeStampMicroVector) vectors[c]).setSafe(row, micros);
          }
          case UTF8 -> {
            tok.checkUtf8(c);
            ((VarCharVector) vectors[c]).setSafe(row, bytes, off, len);
          }
          case NULL -> throw new VineyardException(ErrorCode.INTERNAL, "no column loads as NULL");
        }
      }
      row++;
      if (row == batchRows) {
        emit(tok, root, vectors, row, total, sink);
        total += row;
        row = 0;
      }
    }
    if (row > 0) {
      emit(tok, root, vectors, row, total, sink);
      total += row;
    }
    return total;
  }

  private static void emit(
      CsvTokenizer tok,
      VectorSchemaRoot root,
      FieldVector[] vectors,
      int rows,
      long rowsBefore,
      BatchSink sink) {
    root.setRowCount(rows);
    try {
      sink.accept(root);
    } catch (IOException e) {
      throw new VineyardException(
          ErrorCode.IO_ERROR,
          "CSV batch sink failed on rows "
              + rowsBefore
              + " to "
              + (rowsBefore + rows - 1)
              + " of "
              + tok.file()
              + ": "
              + e,
          e);
    }
    // Clears validity and offsets but keeps the buffers for the next batch.
    for (FieldVector vector : vectors) {
      vector.reset();
    }
    root.setRowCount(0);
  }

  /** Reads and checks the header record; returns the column names. */
  private static String[] readHeader(CsvTokenizer tok) {
    if (!tok.next()) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          tok.file() + ": the file is empty, but a CSV file needs a header line");
    }
    int columns = tok.fieldCount();
    String[] names = new String[columns];
    Map<String, Integer> seen = new HashMap<>();
    for (int c = 0; c < columns; c++) {
      if (tok.length(c) == 0) {
        throw tok.error(tok.line(c), c + 1, "empty column name in the header");
      }
      names[c] = tok.text(c);
      Integer previous = seen.putIfAbsent(names[c], c + 1);
      if (previous != null) {
        throw tok.error(
            tok.line(c),
            c + 1,
            "duplicate column name '"
                + names[c]
                + "' in the header (also column "
                + previous
                + ")");
      }
    }
    return names;
  }

  /**
   * Checks the field count of a data record.
   *
   * @return false for an empty line that is skipped
   */
  private static boolean checkRecord(CsvTokenizer tok, int columns) {
    int count = tok.fieldCount();
    if (count == columns) {
      return true;
    }
    if (tok.isBlank()) {
      return false;
    }
    throw tok.recordError(
        "the record has " + count + " fields but the header has " + columns + " columns");
  }

  private static VineyardException valueError(CsvTokenizer tok, int c, String name, Kind kind) {
    String text = new String(tok.bytes(), tok.start(c), tok.length(c), StandardCharsets.UTF_8);
    if (text.length() > MAX_SHOWN_CHARS) {
      text = text.substring(0, MAX_SHOWN_CHARS) + "...";
    }
    return tok.error(
        tok.line(c),
        c + 1,
        "value \"" + text + "\" of column '" + name + "' is not a valid " + kind.label);
  }
}
