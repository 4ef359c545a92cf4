package io.vineyard.objects.csv;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DateMilliVector;
import org.apache.arrow.vector.Decimal256Vector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.DurationVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.IntervalDayVector;
import org.apache.arrow.vector.IntervalMonthDayNanoVector;
import org.apache.arrow.vector.IntervalYearVector;
import org.apache.arrow.vector.LargeVarBinaryVector;
import org.apache.arrow.vector.LargeVarCharVector;
import org.apache.arrow.vector.NullVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeMicroVector;
import org.apache.arrow.vector.TimeMilliVector;
import org.apache.arrow.vector.TimeNanoVector;
import org.apache.arrow.vector.TimeSecVector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.TimeStampMilliTZVector;
import org.apache.arrow.vector.TimeStampMilliVector;
import org.apache.arrow.vector.TimeStampNanoVector;
import org.apache.arrow.vector.TimeStampSecTZVector;
import org.apache.arrow.vector.TimeStampSecVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.UInt1Vector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.UInt4Vector;
import org.apache.arrow.vector.UInt8Vector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ViewVarBinaryVector;
import org.apache.arrow.vector.ViewVarCharVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.MapVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.complex.UnionVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.complex.impl.UnionMapWriter;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.holders.NullableIntHolder;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CsvWriterTest {

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

  /**
   * Writes the vectors (each already holding {@code rows} values) without header, then closes them.
   */
  private static String csv(int rows, CsvOptions options, FieldVector... vectors)
      throws IOException {
    List<FieldVector> list = List.of(vectors);
    try (VectorSchemaRoot root =
        new VectorSchemaRoot(list.stream().map(FieldVector::getField).toList(), list, rows)) {
      StringWriter out = new StringWriter();
      CsvWriter.write(root, null, out, false, options);
      return out.toString();
    }
  }

  private static String csv(int rows, FieldVector... vectors) throws IOException {
    return csv(rows, CsvOptions.defaults(), vectors);
  }

  private static String lines(String... lines) {
    return String.join("\n", lines) + "\n";
  }

  private static long epochMicros(String localDateTime) {
    LocalDateTime t = LocalDateTime.parse(localDateTime);
    return t.toEpochSecond(ZoneOffset.UTC) * 1_000_000L + t.getNano() / 1_000;
  }

  @Test
  void headerAndStringQuoting() throws IOException {
    try (VarCharVector text = new VarCharVector("a,b", allocator);
        IntVector other = new IntVector("plain", allocator)) {
      String[] values = {
        "plain", "", null, "a,b", "say \"hi\"", "line\nbreak", "cr\rx", " lead", "trail\t", "ünï😀"
      };
      for (int i = 0; i < values.length; i++) {
        if (values[i] == null) {
          text.setNull(i);
        } else {
          text.setSafe(i, values[i].getBytes(UTF_8));
        }
        other.setSafe(i, i);
      }
      text.setValueCount(values.length);
      other.setValueCount(values.length);
      List<FieldVector> vectors = List.of(text, other);
      try (VectorSchemaRoot root = new VectorSchemaRoot(vectors)) {
        StringWriter out = new StringWriter();
        CsvWriter.write(root, null, out, true, CsvOptions.defaults());
        assertEquals(
            lines(
                "\"a,b\",plain",
                "plain,0",
                "\"\",1",
                ",2",
                "\"a,b\",3",
                "\"say \"\"hi\"\"\",4",
                "\"line\nbreak\",5",
                "\"cr\rx\",6",
                "\" lead\",7",
                "\"trail\t\",8",
                "ünï😀,9"),
            out.toString());

        StringWriter semi = new StringWriter();
        CsvWriter.write(root, null, semi, false, CsvOptions.defaults().withDelimiter(';'));
        assertTrue(semi.toString().startsWith("plain;0\n\"\";1\n;2\na,b;3\n"), semi.toString());
      }
    }
  }

  @Test
  void integersSignedAndUnsigned() throws IOException {
    TinyIntVector i8 = new TinyIntVector("i8", allocator);
    SmallIntVector i16 = new SmallIntVector("i16", allocator);
    IntVector i32 = new IntVector("i32", allocator);
    BigIntVector i64 = new BigIntVector("i64", allocator);
    UInt1Vector u8 = new UInt1Vector("u8", allocator);
    UInt2Vector u16 = new UInt2Vector("u16", allocator);
    UInt4Vector u32 = new UInt4Vector("u32", allocator);
    UInt8Vector u64 = new UInt8Vector("u64", allocator);
    i8.setSafe(0, -128);
    i16.setSafe(0, -32768);
    i32.setSafe(0, Integer.MIN_VALUE);
    i64.setSafe(0, Long.MIN_VALUE);
    u8.setSafe(0, (byte) -1);
    u16.setSafe(0, (char) 0xFFFF);
    u32.setSafe(0, -1);
    u64.setSafe(0, -1L);
    i8.setSafe(1, 127);
    i16.setNull(1);
    i32.setSafe(1, 7);
    i64.setSafe(1, Long.MAX_VALUE);
    u8.setSafe(1, 5);
    u16.setSafe(1, 6);
    u32.setSafe(1, 0x8000_0000);
    u64.setSafe(1, Long.MIN_VALUE);
    for (FieldVector v : List.<FieldVector>of(i8, i16, i32, i64, u8, u16, u32, u64)) {
      v.setValueCount(2);
    }
    assertEquals(
        lines(
            "-128,-32768,-2147483648,-9223372036854775808,255,65535,4294967295,"
                + "18446744073709551615",
            "127,,7,9223372036854775807,5,6,2147483648,9223372036854775808"),
        csv(2, i8, i16, i32, i64, u8, u16, u32, u64));
  }

  @Test
  void floatsBoolsAndDecimals() throws IOException {
    Float4Vector f4 = new Float4Vector("f4", allocator);
    Float8Vector f8 = new Float8Vector("f8", allocator);
    BitVector bool = new BitVector("b", allocator);
    DecimalVector dec = new DecimalVector("d", allocator, 20, 4);
    Decimal256Vector dec256 = new Decimal256Vector("d256", allocator, 60, 2);
    f4.setSafe(0, 1.5f);
    f8.setSafe(0, 0.1);
    bool.setSafe(0, 1);
    dec.setSafe(0, new BigDecimal("123.4500"));
    dec256.setSafe(0, new BigDecimal("-12345678901234567890123456789012345678901234567.89"));
    f4.setSafe(1, Float.NaN);
    f8.setSafe(1, 1e300);
    bool.setSafe(1, 0);
    dec.setSafe(1, new BigDecimal("1000000.0000"));
    dec256.setNull(1);
    f4.setSafe(2, Float.NEGATIVE_INFINITY);
    f8.setSafe(2, -0.0);
    bool.setNull(2);
    dec.setNull(2);
    dec256.setSafe(2, new BigDecimal("0.00"));
    for (FieldVector v : List.<FieldVector>of(f4, f8, bool, dec, dec256)) {
      v.setValueCount(3);
    }
    assertEquals(
        lines(
            "1.5,0.1,true,123.4500,-12345678901234567890123456789012345678901234567.89",
            "NaN,1.0E300,false,1000000.0000,",
            "-Infinity,-0.0,,,0.00"),
        csv(3, f4, f8, bool, dec, dec256));
  }

  @Test
  void datesTimesAndTimestamps() throws IOException {
    DateDayVector day = new DateDayVector("day", allocator);
    DateMilliVector milliDay = new DateMilliVector("milliDay", allocator);
    TimeSecVector tSec = new TimeSecVector("tSec", allocator);
    TimeMilliVector tMilli = new TimeMilliVector("tMilli", allocator);
    TimeMicroVector tMicro = new TimeMicroVector("tMicro", allocator);
    TimeNanoVector tNano = new TimeNanoVector("tNano", allocator);
    long micros = epochMicros("2024-01-02T03:04:05.123456");
    day.setSafe(0, (int) LocalDate.parse("2024-01-02").toEpochDay());
    milliDay.setSafe(0, LocalDate.parse("2024-01-02").toEpochDay() * 86_400_000L);
    tSec.setSafe(0, 3723);
    tMilli.setSafe(0, 3_723_004);
    tMicro.setSafe(0, 3_723_000_005L);
    tNano.setSafe(0, 3_723_000_000_006L);
    day.setSafe(1, -1);
    milliDay.setSafe(1, -1);
    tSec.setSafe(1, 0);
    tMilli.setNull(1);
    tMicro.setSafe(1, 86_399_999_999L);
    tNano.setSafe(1, 0);
    for (FieldVector v : List.<FieldVector>of(day, milliDay, tSec, tMilli, tMicro, tNano)) {
      v.setValueCount(2);
    }
    assertEquals(
        lines(
            "2024-01-02,2024-01-02,01:02:03,01:02:03.004,01:02:03.000005,01:02:03.000000006",
            "1969-12-31,1969-12-31,00:00:00,,23:59:59.999999,00:00:00.000000000"),
        csv(2, day, milliDay, tSec, tMilli, tMicro, tNano));

    TimeStampSecVector sec = new TimeStampSecVector("sec", allocator);
    TimeStampMilliVector milli = new TimeStampMilliVector("milli", allocator);
    TimeStampMicroVector micro = new TimeStampMicroVector("micro", allocator);
    TimeStampNanoVector nano = new TimeStampNanoVector("nano", allocator);
    TimeStampMicroTZVector utc = new TimeStampMicroTZVector("utc", allocator, "UTC");
    TimeStampMilliTZVector plusOne = new TimeStampMilliTZVector("plusOne", allocator, "+01:00");
    TimeStampSecTZVector tokyo = new TimeStampSecTZVector("tokyo", allocator, "Asia/Tokyo");
    sec.setSafe(0, micros / 1_000_000);
    milli.setSafe(0, micros / 1_000);
    micro.setSafe(0, micros);
    nano.setSafe(0, micros * 1_000 + 789);
    utc.setSafe(0, micros);
    plusOne.setSafe(0, micros / 1_000);
    tokyo.setSafe(0, micros / 1_000_000);
    sec.setSafe(1, -1);
    milli.setSafe(1, -1);
    micro.setSafe(1, -1);
    nano.setNull(1);
    utc.setSafe(1, 0);
    plusOne.setNull(1);
    tokyo.setSafe(1, 0);
    for (FieldVector v : List.<FieldVector>of(sec, milli, micro, nano, utc, plusOne, tokyo)) {
      v.setValueCount(2);
    }
    assertEquals(
        lines(
            "2024-01-02T03:04:05,2024-01-02T03:04:05.123,2024-01-02T03:04:05.123456,"
                + "2024-01-02T03:04:05.123456789,2024-01-02T03:04:05.123456Z,"
                + "2024-01-02T04:04:05.123+01:00,2024-01-02T12:04:05+09:00",
            "1969-12-31T23:59:59,1969-12-31T23:59:59.999,1969-12-31T23:59:59.999999,,"
                + "1970-01-01T00:00:00.000000Z,,1970-01-01T09:00:00+09:00"),
        csv(2, sec, milli, micro, nano, utc, plusOne, tokyo));
  }

  @Test
  void timeOutOfRangeNamesRowAndColumn() {
    TimeSecVector t = new TimeSecVector("t", allocator);
    t.setSafe(0, 1);
    t.setSafe(1, 86_400);
    t.setValueCount(2);
    VineyardException e = assertThrows(VineyardException.class, () -> csv(2, t));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains("row 1, column 1 ('t')"), e.getMessage());
  }

  @Test
  void durationsAndIntervalsUseJavaText() throws IOException {
    DurationVector duration =
        new DurationVector(
            "duration",
            FieldType.nullable(
                new ArrowType.Duration(org.apache.arrow.vector.types.TimeUnit.MILLISECOND)),
            allocator);
    IntervalYearVector months = new IntervalYearVector("months", allocator);
    IntervalDayVector dayTime = new IntervalDayVector("dayTime", allocator);
    IntervalMonthDayNanoVector mdn = new IntervalMonthDayNanoVector("mdn", allocator);
    duration.setSafe(0, Duration.ofHours(25).plusMillis(1_001).toMillis());
    months.setSafe(0, 14);
    dayTime.setSafe(0, 3, 4_000);
    mdn.setSafe(0, 1, 2, 3_000_000_000L);
    duration.setNull(1);
    months.setNull(1);
    dayTime.setNull(1);
    mdn.setNull(1);
    for (FieldVector v : List.<FieldVector>of(duration, months, dayTime, mdn)) {
      v.setValueCount(2);
    }
    assertEquals(
        lines("PT25H1.001S,P14M,PT72H4S,P1M2D PT3S", ",,,"),
        csv(2, duration, months, dayTime, mdn));
  }

  @Test
  void stringAndBinaryFlavours() throws IOException {
    LargeVarCharVector large = new LargeVarCharVector("large", allocator);
    ViewVarCharVector view = new ViewVarCharVector("view", allocator);
    VarBinaryVector binary = new VarBinaryVector("binary", allocator);
    LargeVarBinaryVector largeBinary = new LargeVarBinaryVector("largeBinary", allocator);
    FixedSizeBinaryVector fixed = new FixedSizeBinaryVector("fixed", allocator, 3);
    ViewVarBinaryVector viewBinary = new ViewVarBinaryVector("viewBinary", allocator);
    NullVector nulls = new NullVector("nulls", 2);
    // setSafe of an empty value does not allocate the first buffers of a view vector.
    view.allocateNew();
    viewBinary.allocateNew();
    large.setSafe(0, "big, text".getBytes(UTF_8));
    view.setSafe(0, "a string longer than twelve bytes".getBytes(UTF_8));
    binary.setSafe(0, new byte[] {0, 1, 2, (byte) 0xFF});
    largeBinary.setSafe(0, "hi".getBytes(UTF_8));
    fixed.setSafe(0, new byte[] {(byte) 0xFB, (byte) 0xFF, 0});
    viewBinary.setSafe(0, new byte[0]);
    large.setNull(1);
    view.setSafe(1, "".getBytes(UTF_8));
    binary.setNull(1);
    largeBinary.setNull(1);
    fixed.setNull(1);
    viewBinary.setNull(1);
    for (FieldVector v :
        List.<FieldVector>of(large, view, binary, largeBinary, fixed, viewBinary)) {
      v.setValueCount(2);
    }
    assertEquals(
        lines(
            "\"big, text\",a string longer than twelve bytes,AAEC/w==,aGk=,+/8A,\"\",",
            ",\"\",,,,,"),
        csv(2, large, view, binary, largeBinary, fixed, viewBinary, nulls));
  }

  @Test
  void nestedTypesAsJsonText() throws IOException {
    ListVector list = ListVector.empty("list", allocator);
    UnionListWriter listWriter = list.getWriter();
    listWriter.setPosition(0);
    listWriter.startList();
    listWriter.writeInt(1);
    listWriter.writeInt(2);
    listWriter.endList();
    listWriter.setValueCount(2);
    list.setNull(1);

    StructVector struct = StructVector.empty("struct", allocator);
    IntVector x =
        struct.addOrGet("x", FieldType.nullable(new ArrowType.Int(32, true)), IntVector.class);
    VarCharVector y =
        struct.addOrGet("y", FieldType.nullable(ArrowType.Utf8.INSTANCE), VarCharVector.class);
    x.setSafe(0, 1);
    y.setSafe(0, "a".getBytes(UTF_8));
    struct.setIndexDefined(0);
    x.setValueCount(2);
    y.setValueCount(2);
    struct.setNull(1);
    struct.setValueCount(2);

    MapVector map = MapVector.empty("map", allocator, false);
    UnionMapWriter mapWriter = map.getWriter();
    mapWriter.setPosition(0);
    mapWriter.startMap();
    mapWriter.startEntry();
    mapWriter.key().integer().writeInt(1);
    mapWriter.value().integer().writeInt(10);
    mapWriter.endEntry();
    mapWriter.endMap();
    mapWriter.setValueCount(2);
    map.setNull(1);

    FixedSizeListVector fixedList = FixedSizeListVector.empty("fixedList", 2, allocator);
    fixedList.addOrGetVector(FieldType.nullable(new ArrowType.Int(32, true)));
    IntVector fixedValues = (IntVector) fixedList.getDataVector();
    fixedList.allocateNew();
    fixedValues.setSafe(0, 3);
    fixedValues.setSafe(1, 4);
    fixedValues.setSafe(2, 5);
    fixedValues.setSafe(3, 6);
    fixedValues.setValueCount(4);
    fixedList.setNotNull(0);
    fixedList.setNotNull(1);
    fixedList.setValueCount(2);

    UnionVector union = UnionVector.empty("union", allocator);
    NullableIntHolder holder = new NullableIntHolder();
    holder.isSet = 1;
    holder.value = 7;
    union.setSafe(0, holder);
    union.setValueCount(2);

    assertEquals(
        lines(
            "\"[1,2]\","
                + "\"{\"\"x\"\":1,\"\"y\"\":\"\"a\"\"}\","
                + "\"[{\"\"key\"\":1,\"\"value\"\":10}]\","
                + "\"[3,4]\",7",
            ",,,\"[5,6]\","),
        csv(2, list, struct, map, fixedList, union));
  }

  @Test
  void dictionaryEncodedColumnIsDecoded() throws IOException {
    try (VarCharVector colors = new VarCharVector("colors", allocator);
        IntVector indices =
            new IntVector(
                "color",
                new FieldType(
                    true,
                    new ArrowType.Int(32, true),
                    new DictionaryEncoding(42L, false, new ArrowType.Int(32, true))),
                allocator);
        BigIntVector ids = new BigIntVector("id", allocator)) {
      colors.setSafe(0, "red".getBytes(UTF_8));
      colors.setSafe(1, "green, light".getBytes(UTF_8));
      colors.setSafe(2, "blue".getBytes(UTF_8));
      colors.setValueCount(3);
      int[] codes = {2, 0, -1, 1};
      for (int i = 0; i < codes.length; i++) {
        if (codes[i] < 0) {
          indices.setNull(i);
        } else {
          indices.setSafe(i, codes[i]);
        }
        ids.setSafe(i, i);
      }
      indices.setValueCount(4);
      ids.setValueCount(4);
      DictionaryProvider provider =
          new DictionaryProvider.MapDictionaryProvider(
              new Dictionary(colors, indices.getField().getDictionary()));
      VectorSchemaRoot root = new VectorSchemaRoot(List.<FieldVector>of(ids, indices));
      StringWriter out = new StringWriter();
      CsvWriter.write(root, provider, out, true, CsvOptions.defaults());
      assertEquals(
          lines("id,color", "0,blue", "1,red", "2,", "3,\"green, light\""), out.toString());

      VineyardException missing =
          assertThrows(
              VineyardException.class,
              () -> CsvWriter.write(root, null, new StringWriter(), true, CsvOptions.defaults()));
      assertEquals(ErrorCode.INVALID_ARGUMENT, missing.code());
      assertTrue(missing.getMessage().contains("'color'"), missing.getMessage());
      assertTrue(missing.getMessage().contains("42"), missing.getMessage());

      indices.setSafe(0, 3);
      VineyardException outOfRange =
          assertThrows(
              VineyardException.class,
              () ->
                  CsvWriter.write(root, provider, new StringWriter(), true, CsvOptions.defaults()));
      assertTrue(outOfRange.getMessage().contains("row 0"), outOfRange.getMessage());
      assertTrue(outOfRange.getMessage().contains("index 3"), outOfRange.getMessage());
    }
  }

  @Test
  void roundTripKeepsTypesAndValues() throws IOException {
    Random random = new Random(20240102);
    int rows = 500;
    try (BigIntVector ints = new BigIntVector("int64", allocator);
        Float8Vector floats = new Float8Vector("float64", allocator);
        BitVector bools = new BitVector("bool", allocator);
        VarCharVector texts = new VarCharVector("text, with \"quotes\"", allocator);
        DateDayVector dates = new DateDayVector("date", allocator);
        TimeStampMicroVector stamps = new TimeStampMicroVector("timestamp", allocator)) {
      double[] specials = {
        Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, 1e-300, 0.1
      };
      String[] pieces = {
        "a", "Z", " ", ",", "\"", "\n", "\r", "\r\n", "é", "😀", "日本", "1", ".", "-", "true"
      };
      for (int i = 0; i < rows; i++) {
        // Row 0 is fully non-null and holds a value that keeps the text column text.
        boolean nulls = i > 0 && random.nextInt(5) == 0;
        if (nulls && random.nextBoolean()) {
          ints.setNull(i);
        } else {
          ints.setSafe(i, i % 7 == 0 ? Long.MIN_VALUE + i : random.nextLong());
        }
        if (nulls && random.nextBoolean()) {
          floats.setNull(i);
        } else {
          floats.setSafe(
              i,
              i < specials.length
                  ? specials[i]
                  : random.nextGaussian() * Math.pow(10, random.nextInt(40) - 20));
        }
        if (nulls && random.nextBoolean()) {
          bools.setNull(i);
        } else {
          bools.setSafe(i, random.nextBoolean() ? 1 : 0);
        }
        if (nulls && random.nextBoolean()) {
          texts.setNull(i);
        } else if (i == 0) {
          texts.setSafe(i, "text".getBytes(UTF_8));
        } else {
          StringBuilder s = new StringBuilder();
          int length = random.nextInt(6);
          for (int k = 0; k < length; k++) {
            s.append(pieces[random.nextInt(pieces.length)]);
          }
          texts.setSafe(i, s.toString().getBytes(UTF_8));
        }
        if (nulls && random.nextBoolean()) {
          dates.setNull(i);
        } else {
          dates.setSafe(i, random.nextInt(-700_000, 2_900_000));
        }
        if (nulls && random.nextBoolean()) {
          stamps.setNull(i);
        } else {
          stamps.setSafe(i, random.nextLong(-62_000_000_000_000_000L, 250_000_000_000_000_000L));
        }
      }
      List<FieldVector> vectors = List.of(ints, floats, bools, texts, dates, stamps);
      for (FieldVector v : vectors) {
        v.setValueCount(rows);
      }
      VectorSchemaRoot original = new VectorSchemaRoot(vectors);
      Path path = dir.resolve("roundtrip.csv");
      try (Writer out = Files.newBufferedWriter(path, UTF_8)) {
        CsvWriter.write(original, null, out, true, CsvOptions.defaults());
      }

      Schema schema = CsvReader.inferSchema(path, CsvOptions.defaults());
      assertEquals(original.getSchema(), schema);
      List<List<Object>> readBack = new ArrayList<>();
      long count =
          CsvReader.read(
              path,
              schema,
              CsvOptions.defaults().withBatchRows(64),
              allocator,
              root -> readBack.addAll(CsvReaderTest.rowsOf(root)));
      assertEquals(rows, count);
      assertEquals(CsvReaderTest.rowsOf(original), readBack);
    }
  }

  @Test
  void singleColumnRoundTripKeepsNullsAndEmptyStrings() throws IOException {
    try (VarCharVector texts = new VarCharVector("only", allocator)) {
      texts.setSafe(0, "x".getBytes(UTF_8));
      texts.setNull(1);
      texts.setSafe(2, new byte[0]);
      texts.setNull(3);
      texts.setValueCount(4);
      VectorSchemaRoot original = new VectorSchemaRoot(List.<FieldVector>of(texts));
      Path path = dir.resolve("single.csv");
      try (Writer out = Files.newBufferedWriter(path, UTF_8)) {
        CsvWriter.write(original, null, out, true, CsvOptions.defaults());
      }
      assertEquals("only\nx\n\n\"\"\n\n", Files.readString(path));
      Schema schema = CsvReader.inferSchema(path, CsvOptions.defaults());
      assertEquals(original.getSchema(), schema);
      List<List<Object>> readBack = new ArrayList<>();
      CsvReader.read(
          path,
          schema,
          CsvOptions.defaults(),
          allocator,
          root -> readBack.addAll(CsvReaderTest.rowsOf(root)));
      assertEquals(
          List.of(
              List.of("x"),
              Arrays.asList((Object) null),
              List.of(""),
              Arrays.asList((Object) null)),
          readBack);
    }
  }
}
