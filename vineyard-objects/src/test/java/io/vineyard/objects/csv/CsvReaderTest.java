package io.vineyard.objects.csv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.DateUnit;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.Text;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CsvReaderTest {

  static final ArrowType BOOL = ArrowType.Bool.INSTANCE;
  static final ArrowType INT64 = new ArrowType.Int(64, true);
  static final ArrowType FLOAT64 = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
  static final ArrowType DATE = new ArrowType.Date(DateUnit.DAY);
  static final ArrowType TIMESTAMP =
      new ArrowType.Timestamp(org.apache.arrow.vector.types.TimeUnit.MICROSECOND, null);
  static final ArrowType UTF8 = ArrowType.Utf8.INSTANCE;

  @TempDir Path dir;

  private BufferAllocator allocator;

  @BeforeEach
  void openAllocator() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void closeAllocator() {
    assertEquals(0, allocator.getAllocatedMemory(), "leaked Arrow memory");
    allocator.close();
  }

  /** All rows of a file read with its inferred schema, plus the batch sizes seen. */
  record Result(Schema schema, List<List<Object>> rows, List<Integer> batches, long count) {

    List<Object> column(int c) {
      List<Object> values = new ArrayList<>();
      for (List<Object> row : rows) {
        values.add(row.get(c));
      }
      return values;
    }
  }

  private Path file(String content) throws IOException {
    return bytesFile(content.getBytes(StandardCharsets.UTF_8));
  }

  private Path bytesFile(byte[] content) throws IOException {
    Path path = Files.createTempFile(dir, "data", ".csv");
    Files.write(path, content);
    return path;
  }

  private Result readAll(Path path, CsvOptions options) {
    return readAll(path, CsvReader.inferSchema(path, options), options);
  }

  private Result readAll(Path path, Schema schema, CsvOptions options) {
    List<List<Object>> rows = new ArrayList<>();
    List<Integer> batches = new ArrayList<>();
    long count =
        CsvReader.read(
            path,
            schema,
            options,
            allocator,
            root -> {
              batches.add(root.getRowCount());
              rows.addAll(rowsOf(root));
            });
    return new Result(schema, rows, batches, count);
  }

  /** The rows of a root as Java values: Text becomes String, the rest as getObject gives them. */
  static List<List<Object>> rowsOf(VectorSchemaRoot root) {
    List<List<Object>> rows = new ArrayList<>();
    for (int r = 0; r < root.getRowCount(); r++) {
      List<Object> row = new ArrayList<>();
      for (FieldVector vector : root.getFieldVectors()) {
        assertEquals(root.getRowCount(), vector.getValueCount());
        Object value = vector.getObject(r);
        row.add(value instanceof Text text ? text.toString() : value);
      }
      rows.add(row);
    }
    return rows;
  }

  private static List<ArrowType> types(Schema schema) {
    return schema.getFields().stream().map(Field::getType).toList();
  }

  private static int epochDay(String date) {
    return (int) LocalDate.parse(date).toEpochDay();
  }

  private static VineyardException invalid(Runnable action) {
    VineyardException e = assertThrows(VineyardException.class, action::run);
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
    return e;
  }

  private static void assertContains(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), () -> "'" + message + "' lacks '" + part + "'");
    }
  }

  @Test
  void infersEachType() throws IOException {
    Path path =
        file(
            """
            flag,count,ratio,day,at,name
            true,1,1.5,2024-01-02,2024-01-02T03:04:05.123456,alpha
            FALSE,-42,-2e3,1999-12-31,2024-01-02 03:04:05,beta
            True,9223372036854775807,NaN,2000-02-29,2024-01-02T03:04,gamma
            false,-9223372036854775808,-Infinity,0001-01-01,1970-01-01T00:00:00.5,"quoted, text"
            """);
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals(
        List.of("flag", "count", "ratio", "day", "at", "name"),
        result.schema().getFields().stream().map(Field::getName).toList());
    assertEquals(List.of(BOOL, INT64, FLOAT64, DATE, TIMESTAMP, UTF8), types(result.schema()));
    assertTrue(result.schema().getFields().stream().allMatch(Field::isNullable));
    assertEquals(4, result.count());
    assertEquals(List.of(true, false, true, false), result.column(0));
    assertEquals(List.of(1L, -42L, Long.MAX_VALUE, Long.MIN_VALUE), result.column(1));
    assertEquals(List.of(1.5, -2000.0, Double.NaN, Double.NEGATIVE_INFINITY), result.column(2));
    assertEquals(
        List.of(
            epochDay("2024-01-02"),
            epochDay("1999-12-31"),
            epochDay("2000-02-29"),
            epochDay("0001-01-01")),
        result.column(3));
    assertEquals(
        List.of(
            LocalDateTime.parse("2024-01-02T03:04:05.123456"),
            LocalDateTime.parse("2024-01-02T03:04:05"),
            LocalDateTime.parse("2024-01-02T03:04"),
            LocalDateTime.parse("1970-01-01T00:00:00.5")),
        result.column(4));
    assertEquals(List.of("alpha", "beta", "gamma", "quoted, text"), result.column(5));
  }

  @Test
  void mixedColumnsTakeTheNarrowestCommonType() throws IOException {
    Path path =
        file(
            String.join(
                "\n",
                "intfloat,intbool,dateTs,intDate,overflow,suffix,badDate,fraction7,offset,spaced,"
                    + "quotedInt",
                "1,1,2024-01-02,1,9223372036854775808,1d,2024-02-30,2024-01-02T03:04:05.1234567,"
                    + "2024-01-02T03:04:05Z, 1,\"7\"",
                "2.5,true,2024-01-02T10:00:00,2024-01-02,1,2,2024-01-01,2024-01-02,2024-01-02,2,8",
                "1e-3,0,,,,,,,,,"));
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals(
        List.of(FLOAT64, UTF8, TIMESTAMP, UTF8, FLOAT64, UTF8, UTF8, UTF8, UTF8, UTF8, INT64),
        types(result.schema()));
    assertEquals(Arrays.asList(1.0, 2.5, 0.001), result.column(0));
    assertEquals(Arrays.asList("1", "true", "0"), result.column(1));
    // A date in a timestamp column is midnight.
    assertEquals(
        Arrays.asList(
            LocalDateTime.parse("2024-01-02T00:00"), LocalDateTime.parse("2024-01-02T10:00"), null),
        result.column(2));
    assertEquals(Arrays.asList(9.223372036854775808e18, 1.0, null), result.column(4));
    assertEquals(Arrays.asList(" 1", "2", null), result.column(9));
    assertEquals(Arrays.asList(7L, 8L, null), result.column(10));
  }

  @Test
  void emptyFieldsAreNullAndQuotedEmptyIsEmptyStringOnlyInUtf8() throws IOException {
    Path path =
        file(
            """
            num,text,allNull,onlyQuotedEmpty
            1,"",,""
            "",x,,
            ,,,""
            """);
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals(List.of(INT64, UTF8, UTF8, UTF8), types(result.schema()));
    assertEquals(Arrays.asList(1L, null, null), result.column(0));
    assertEquals(Arrays.asList("", "x", null), result.column(1));
    assertEquals(Arrays.asList(null, null, null), result.column(2));
    assertEquals(Arrays.asList("", null, ""), result.column(3));
  }

  @Test
  void quotedFieldsHoldDelimitersQuotesAndNewlines() throws IOException {
    Path path =
        file(
            "a,b\n"
                + "\"x,1\",\"line1\nline2\"\n"
                + "\"he said \"\"hi\"\"\",\"\"\"\"\n"
                + "plain\"quote,\"\n\n\"\n");
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals(List.of(UTF8, UTF8), types(result.schema()));
    assertEquals(List.of("x,1", "he said \"hi\"", "plain\"quote"), result.column(0));
    assertEquals(List.of("line1\nline2", "\"", "\n\n"), result.column(1));
  }

  @Test
  void errorLineNumbersCountNewlinesInsideQuotes() throws IOException {
    // The bad record starts on line 6: lines 2-3 and 4-5 are records with a quoted newline.
    Path path = file("a,b\n1,\"two\nlines\"\n2,\"x\r\ny\"\n3,4,5\n");
    VineyardException e = invalid(() -> CsvReader.inferSchema(path, CsvOptions.defaults()));
    assertContains(e.getMessage(), "line 6", "3 fields", "2 columns", path.toString());
    Schema schema = new Schema(List.of(Field.nullable("a", INT64), Field.nullable("b", UTF8)));
    e = invalid(() -> readAll(path, schema, CsvOptions.defaults()));
    assertContains(e.getMessage(), "line 6", "3 fields", "2 columns");
  }

  @Test
  void raggedShortRowIsAnError() throws IOException {
    Path path = file("a,b,c\n1,2,3\n4,5\n");
    VineyardException e = invalid(() -> CsvReader.inferSchema(path, CsvOptions.defaults()));
    assertContains(e.getMessage(), "line 3", "2 fields", "3 columns");
  }

  @Test
  void crlfLineEnds() throws IOException {
    Path path = file("a,b\r\n1,x\r\n2,\"y\r\nz\"\r\n3,\r\n");
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals(List.of(INT64, UTF8), types(result.schema()));
    assertEquals(List.of(1L, 2L, 3L), result.column(0));
    assertEquals(Arrays.asList("x", "y\r\nz", null), result.column(1));
  }

  @Test
  void byteOrderMarkIsSkippedAndUnicodeKept() throws IOException {
    Path path = file("\uFEFFid,naïve name\n1,héllo wörld ✓\n2,日本語 😀\n");
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals("id", result.schema().getFields().get(0).getName());
    assertEquals("naïve name", result.schema().getFields().get(1).getName());
    assertEquals(List.of(INT64, UTF8), types(result.schema()));
    assertEquals(List.of("héllo wörld ✓", "日本語 😀"), result.column(1));
  }

  @Test
  void headerOnlyFileHasUtf8ColumnsAndNoRows() throws IOException {
    for (String content : List.of("a,\" b \"\n", "a,\" b \"")) {
      Path path = file(content);
      Result result = readAll(path, CsvOptions.defaults());
      assertEquals(
          List.of("a", " b "), result.schema().getFields().stream().map(Field::getName).toList());
      assertEquals(List.of(UTF8, UTF8), types(result.schema()));
      assertEquals(0, result.count());
      assertEquals(List.of(), result.batches());
    }
  }

  @Test
  void emptyFileIsAnError() throws IOException {
    for (byte[] content :
        List.of(new byte[0], new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF})) {
      Path path = bytesFile(content);
      VineyardException e = invalid(() -> CsvReader.inferSchema(path, CsvOptions.defaults()));
      assertContains(e.getMessage(), "empty", "header");
      Schema schema = new Schema(List.of(Field.nullable("a", UTF8)));
      invalid(() -> readAll(path, schema, CsvOptions.defaults()));
    }
  }

  @Test
  void missingFileIsAnIoError() {
    Path path = dir.resolve("missing.csv");
    VineyardException e =
        assertThrows(
            VineyardException.class, () -> CsvReader.inferSchema(path, CsvOptions.defaults()));
    assertEquals(ErrorCode.IO_ERROR, e.code());
    assertContains(e.getMessage(), "missing.csv");
  }

  @Test
  void duplicateAndEmptyColumnNamesAreErrors() throws IOException {
    Path duplicate = file("a,b,a\n1,2,3\n");
    assertContains(
        invalid(() -> CsvReader.inferSchema(duplicate, CsvOptions.defaults())).getMessage(),
        "line 1",
        "column 3",
        "duplicate column name 'a'",
        "column 1");
    Path empty = file("a,,c\n1,2,3\n");
    assertContains(
        invalid(() -> CsvReader.inferSchema(empty, CsvOptions.defaults())).getMessage(),
        "line 1",
        "column 2",
        "empty column name");
    Path quotedEmpty = file("a,\"\"\n");
    assertContains(
        invalid(() -> CsvReader.inferSchema(quotedEmpty, CsvOptions.defaults())).getMessage(),
        "column 2",
        "empty column name");
  }

  @Test
  void batchesHoldAtMostBatchRowsInOrder() throws IOException {
    StringBuilder csv = new StringBuilder("n,s\n");
    for (int i = 0; i < 10; i++) {
      csv.append(i).append(",v").append(i).append('\n');
    }
    Path path = file(csv.toString());
    Result result = readAll(path, CsvOptions.defaults().withBatchRows(3));
    assertEquals(List.of(3, 3, 3, 1), result.batches());
    assertEquals(10, result.count());
    List<Object> expected = new ArrayList<>();
    List<Object> expectedText = new ArrayList<>();
    for (long i = 0; i < 10; i++) {
      expected.add(i);
      expectedText.add("v" + i);
    }
    assertEquals(expected, result.column(0));
    assertEquals(expectedText, result.column(1));

    assertEquals(List.of(5, 5), readAll(path, CsvOptions.defaults().withBatchRows(5)).batches());
    assertEquals(List.of(10), readAll(path, CsvOptions.defaults()).batches());
  }

  @Test
  void nullsDoNotLeakBetweenReusedBatches() throws IOException {
    Path path = file("a,b\n1,x\n,\n3,z\n,\n");
    Result result = readAll(path, CsvOptions.defaults().withBatchRows(1));
    assertEquals(List.of(1, 1, 1, 1), result.batches());
    assertEquals(Arrays.asList(1L, null, 3L, null), result.column(0));
    assertEquals(Arrays.asList("x", null, "z", null), result.column(1));
  }

  @Test
  void blankLinesAreSkippedUnlessTheFileHasOneColumn() throws IOException {
    Result multi = readAll(file("a,b\n1,2\n\n3,4\n\n\n"), CsvOptions.defaults());
    assertEquals(List.of(1L, 3L), multi.column(0));
    assertEquals(2, multi.count());

    // One column: an empty line is a null, which is how the writer writes one.
    Result single = readAll(file("a\n1\n\n3\n"), CsvOptions.defaults());
    assertEquals(Arrays.asList(1L, null, 3L), single.column(0));

    // No line break at the end of the last record.
    Result noFinalNewline = readAll(file("a,b\n1,2\n3,"), CsvOptions.defaults());
    assertEquals(Arrays.asList(2L, null), noFinalNewline.column(1));
  }

  @Test
  void otherDelimiters() throws IOException {
    Path tabs = file("a\tb\n1,5\t\"x\ty\"\n");
    Result result = readAll(tabs, CsvOptions.defaults().withDelimiter('\t'));
    assertEquals(List.of(UTF8, UTF8), types(result.schema()));
    assertEquals(List.of(List.of("1,5", "x\ty")), result.rows());

    Path semicolons = file("a;b\n1;2.5\n");
    Result semi = readAll(semicolons, new CsvOptions(';', 100));
    assertEquals(List.of(List.of(1L, 2.5)), semi.rows());
  }

  @Test
  void valueThatDoesNotFitTheGivenSchemaNamesLineAndColumn() throws IOException {
    Path path = file("id,when\n1,2024-01-01\n2,\"multi\nline\"\nx,2024-01-03\n");
    Schema schema = new Schema(List.of(Field.nullable("id", INT64), Field.nullable("when", DATE)));
    VineyardException e = invalid(() -> readAll(path, schema, CsvOptions.defaults()));
    assertContains(e.getMessage(), "line 3", "column 2", "'when'", "\"multi\nline\"", "Date");

    Path path2 = file("id\n1\n2\nx\n");
    Schema ints = new Schema(List.of(Field.nullable("id", INT64)));
    e = invalid(() -> readAll(path2, ints, CsvOptions.defaults()));
    assertContains(e.getMessage(), "line 4", "column 1", "Int64");
  }

  @Test
  void schemaMustMatchTheHeaderAndUseLoadableTypes() throws IOException {
    Path path = file("a,b\n1,2\n");
    Schema renamed = new Schema(List.of(Field.nullable("a", INT64), Field.nullable("c", INT64)));
    assertContains(
        invalid(() -> readAll(path, renamed, CsvOptions.defaults())).getMessage(), "'b'", "'c'");
    Schema fewer = new Schema(List.of(Field.nullable("a", INT64)));
    assertContains(
        invalid(() -> readAll(path, fewer, CsvOptions.defaults())).getMessage(), "2 columns");
    Schema int32 =
        new Schema(
            List.of(Field.nullable("a", new ArrowType.Int(32, true)), Field.nullable("b", INT64)));
    assertContains(
        invalid(() -> readAll(path, int32, CsvOptions.defaults())).getMessage(), "'a'", "Int");
    Schema notNull =
        new Schema(List.of(Field.notNullable("a", INT64), Field.notNullable("b", INT64)));
    Path withNull = file("a,b\n1,\n");
    assertContains(
        invalid(() -> readAll(withNull, notNull, CsvOptions.defaults())).getMessage(),
        "line 2",
        "column 2",
        "not nullable");
  }

  @Test
  void malformedQuotingAndEncodingAreErrors() throws IOException {
    Path unclosed = file("a,b\n1,\"open\n\n");
    assertContains(
        invalid(() -> CsvReader.inferSchema(unclosed, CsvOptions.defaults())).getMessage(),
        "line 2",
        "column 2",
        "not closed");
    Path afterQuote = file("a,b\n1,\"x\"y\n");
    assertContains(
        invalid(() -> CsvReader.inferSchema(afterQuote, CsvOptions.defaults())).getMessage(),
        "line 2",
        "column 2",
        "'y'");
    Path badUtf8 = bytesFile(new byte[] {'a', '\n', 'x', (byte) 0xC3, '\n'});
    Schema schema = CsvReader.inferSchema(badUtf8, CsvOptions.defaults());
    assertContains(
        invalid(() -> readAll(badUtf8, schema, CsvOptions.defaults())).getMessage(),
        "line 2",
        "column 1",
        "UTF-8");
  }

  @Test
  void sinkFailureIsAnIoErrorAndFreesTheBatch() throws IOException {
    Path path = file("a\n1\n2\n3\n");
    Schema schema = CsvReader.inferSchema(path, CsvOptions.defaults());
    VineyardException e =
        assertThrows(
            VineyardException.class,
            () ->
                CsvReader.read(
                    path,
                    schema,
                    CsvOptions.defaults().withBatchRows(2),
                    allocator,
                    root -> {
                      throw new IOException("disk full");
                    }));
    assertEquals(ErrorCode.IO_ERROR, e.code());
    assertContains(e.getMessage(), "disk full");
  }

  @Test
  void optionsAreChecked() {
    assertEquals(',', CsvOptions.defaults().delimiter());
    assertEquals(65536, CsvOptions.defaults().batchRows());
    invalid(() -> new CsvOptions('"', 10));
    invalid(() -> new CsvOptions('\n', 10));
    invalid(() -> new CsvOptions('§', 10));
    invalid(() -> CsvOptions.defaults().withBatchRows(0));
  }

  @Test
  void largeFileStreamsInManyBatches() throws IOException {
    int rows = 200_000;
    StringBuilder csv = new StringBuilder(rows * 40).append("id,value,label,day\n");
    for (int i = 0; i < rows; i++) {
      csv.append(i).append(',').append(i * 0.5).append(",\"label ").append(i % 97).append("\",");
      csv.append(LocalDate.ofEpochDay(i % 20_000)).append('\n');
    }
    Path path = file(csv.toString());
    Schema schema = CsvReader.inferSchema(path, CsvOptions.defaults());
    assertEquals(List.of(INT64, FLOAT64, UTF8, DATE), types(schema));
    long[] sum = new long[1];
    List<Integer> batches = new ArrayList<>();
    long count =
        CsvReader.read(
            path,
            schema,
            CsvOptions.defaults().withBatchRows(50_000),
            allocator,
            root -> {
              batches.add(root.getRowCount());
              BigIntVector ids = (BigIntVector) root.getVector("id");
              for (int r = 0; r < root.getRowCount(); r++) {
                sum[0] += ids.get(r);
              }
            });
    assertEquals(rows, count);
    assertEquals(List.of(50_000, 50_000, 50_000, 50_000), batches);
    assertEquals((long) rows * (rows - 1) / 2, sum[0]);
  }

  @Test
  void leadingZerosAndOutOfRangeNumbersStayText() throws IOException {
    Path path =
        file(
            """
            zip,id,zero,small,huge,tiny,fraction
            02134,007,0,-0,1e400,1e-400,0.5
            10001,12,0,+5,2,0e-500,00.5
            """);
    Result result = readAll(path, CsvOptions.defaults());
    assertEquals(List.of(UTF8, UTF8, INT64, INT64, UTF8, UTF8, UTF8), types(result.schema()));
    assertEquals(List.of("02134", "10001"), result.column(0));
    assertEquals(List.of("007", "12"), result.column(1));
    assertEquals(List.of(0L, 5L), result.column(3));
  }

  @Test
  void anUnclosedQuoteStopsAt64MibWithTheLineItOpenedOn() throws IOException {
    byte[] line = "filler line without a quote\n".getBytes(StandardCharsets.US_ASCII);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.write("a,b\n1,2\n3,\"never closed\n".getBytes(StandardCharsets.US_ASCII));
    while (out.size() < (66 << 20)) {
      out.write(line);
    }
    Path path = bytesFile(out.toByteArray());
    VineyardException e = invalid(() -> CsvReader.inferSchema(path, CsvOptions.defaults()));
    assertContains(e.getMessage(), "line 3", "64 MiB", "quote");
  }
}
