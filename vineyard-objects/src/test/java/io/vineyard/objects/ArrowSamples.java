package io.vineyard.objects;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DateMilliVector;
import org.apache.arrow.vector.Decimal256Vector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.DurationVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.Float2Vector;
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
import org.apache.arrow.vector.TimeStampMilliVector;
import org.apache.arrow.vector.TimeStampNanoVector;
import org.apache.arrow.vector.TimeStampSecVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.UInt1Vector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.UInt4Vector;
import org.apache.arrow.vector.UInt8Vector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ViewVarBinaryVector;
import org.apache.arrow.vector.ViewVarCharVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.MapVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.complex.impl.UnionFixedSizeListWriter;
import org.apache.arrow.vector.complex.impl.UnionLargeListWriter;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.complex.impl.UnionMapWriter;
import org.apache.arrow.vector.complex.writer.BaseWriter.StructWriter;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.util.Text;

/**
 * Record batches with a column of every type Arrow Java has, for round-trip tests. Row {@code r} is
 * null in every nullable column where {@code r % 3 == 1}.
 */
final class ArrowSamples {
  private ArrowSamples() {}

  static boolean isNull(int r) {
    return r % 3 == 1;
  }

  /** A batch of {@code rows} rows, one column per type; dictionary-encoded columns use {@code provider}. */
  static VectorSchemaRoot everyType(BufferAllocator a, int rows, DictionaryProvider.MapDictionaryProvider provider) {
    List<FieldVector> cols = new ArrayList<>();
    cols.add(fill(new TinyIntVector("int8", a), rows, (v, r) -> v.setSafe(r, (byte) (r - 5))));
    cols.add(fill(new SmallIntVector("int16", a), rows, (v, r) -> v.setSafe(r, (short) (r * 1000 - 7))));
    cols.add(fill(new IntVector("int32", a), rows, (v, r) -> v.setSafe(r, r * 100_000 - 1)));
    cols.add(fill(new BigIntVector("int64", a), rows, (v, r) -> v.setSafe(r, (long) r * 10_000_000_000L - 3)));
    cols.add(fill(new UInt1Vector("uint8", a), rows, (v, r) -> v.setSafe(r, 200 + r % 50)));
    cols.add(fill(new UInt2Vector("uint16", a), rows, (v, r) -> v.setSafe(r, 60_000 + r % 5000)));
    cols.add(fill(new UInt4Vector("uint32", a), rows, (v, r) -> v.setSafe(r, -r - 1)));
    cols.add(fill(new UInt8Vector("uint64", a), rows, (v, r) -> v.setSafe(r, -r - 1L)));
    cols.add(fill(new Float2Vector("float16", a), rows, (v, r) -> v.setSafeWithPossibleTruncate(r, r * 0.5f)));
    cols.add(fill(new Float4Vector("float32", a), rows, (v, r) -> v.setSafe(r, r * 1.25f)));
    cols.add(fill(new Float8Vector("float64", a), rows, (v, r) -> v.setSafe(r, r == 0 ? Double.NaN : r / 3.0)));
    cols.add(fill(new DecimalVector("decimal128", a, 38, 10), rows,
        (v, r) -> v.setSafe(r, new BigDecimal("12345678901234567890.0123456789").add(BigDecimal.valueOf(r)))));
    cols.add(fill(new Decimal256Vector("decimal256", a, 76, 20), rows,
        (v, r) -> v.setSafe(r, new BigDecimal("-98765432109876543210987654321.01234567890123456789").add(BigDecimal.valueOf(r)))));
    cols.add(fill(new DateDayVector("date32", a), rows, (v, r) -> v.setSafe(r, 19_000 + r)));
    cols.add(fill(new DateMilliVector("date64", a), rows, (v, r) -> v.setSafe(r, (19_000L + r) * 86_400_000L)));
    cols.add(fill(new TimeSecVector("time_s", a), rows, (v, r) -> v.setSafe(r, r * 61)));
    cols.add(fill(new TimeMilliVector("time_ms", a), rows, (v, r) -> v.setSafe(r, r * 61_001)));
    cols.add(fill(new TimeMicroVector("time_us", a), rows, (v, r) -> v.setSafe(r, r * 61_000_001L)));
    cols.add(fill(new TimeNanoVector("time_ns", a), rows, (v, r) -> v.setSafe(r, r * 61_000_000_001L)));
    cols.add(fill(new TimeStampSecVector("ts_s", a), rows, (v, r) -> v.setSafe(r, 1_700_000_000L + r)));
    cols.add(fill(new TimeStampMilliVector("ts_ms", a), rows, (v, r) -> v.setSafe(r, 1_700_000_000_000L + r)));
    cols.add(fill(new TimeStampMicroVector("ts_us", a), rows, (v, r) -> v.setSafe(r, 1_700_000_000_000_000L + r)));
    cols.add(fill(new TimeStampNanoVector("ts_ns", a), rows, (v, r) -> v.setSafe(r, 1_700_000_000_000_000_000L + r)));
    cols.add(fill(new TimeStampMicroTZVector("ts_us_utc", a, "UTC"), rows, (v, r) -> v.setSafe(r, 1_600_000_000_000_000L + r)));
    cols.add(fill(new DurationVector(Field.nullable("duration_ms", new ArrowType.Duration(TimeUnit.MILLISECOND)), a), rows,
        (v, r) -> v.setSafe(r, r * 1000L)));
    cols.add(fill(new IntervalYearVector("interval_ym", a), rows, (v, r) -> v.setSafe(r, r * 13)));
    cols.add(fill(new IntervalDayVector("interval_dt", a), rows, (v, r) -> v.setSafe(r, r, r * 1000)));
    cols.add(fill(new IntervalMonthDayNanoVector("interval_mdn", a), rows, (v, r) -> v.setSafe(r, r, r * 2, r * 3_000_000_000L)));
    cols.add(fill(new BitVector("bool", a), rows, (v, r) -> v.setSafe(r, r % 2)));
    cols.add(fill(new VarCharVector("utf8", a), rows, (v, r) -> v.setSafe(r, text(r == 0 ? "" : "héllo, \"wörld\" " + r))));
    cols.add(fill(new LargeVarCharVector("large_utf8", a), rows, (v, r) -> v.setSafe(r, text("large " + "x".repeat(r % 40)))));
    cols.add(fill(new ViewVarCharVector("utf8_view", a), rows, (v, r) -> v.setSafe(r, ("view string number " + r + " long enough to not inline").getBytes(StandardCharsets.UTF_8))));
    cols.add(fill(new VarBinaryVector("binary", a), rows, (v, r) -> v.setSafe(r, new byte[] {(byte) r, 0, (byte) 0xff})));
    cols.add(fill(new LargeVarBinaryVector("large_binary", a), rows, (v, r) -> v.setSafe(r, new byte[r % 7])));
    cols.add(fill(new ViewVarBinaryVector("binary_view", a), rows, (v, r) -> v.setSafe(r, new byte[] {1, 2, (byte) r})));
    cols.add(fill(new FixedSizeBinaryVector("fixed_binary", a, 4), rows, (v, r) -> v.setSafe(r, new byte[] {(byte) r, 1, 2, 3})));
    NullVector nulls = new NullVector("null");
    nulls.setValueCount(rows);
    cols.add(nulls);
    cols.add(list(a, rows));
    cols.add(largeList(a, rows));
    cols.add(fixedSizeList(a, rows));
    cols.add(struct(a, rows));
    cols.add(map(a, rows));
    cols.add(dictionaryEncoded(a, rows, provider));
    VectorSchemaRoot root = new VectorSchemaRoot(cols);
    root.setRowCount(rows);
    return root;
  }

  @FunctionalInterface
  interface Setter<V> {
    void set(V vector, int row);
  }

  static <V extends FieldVector> V fill(V v, int rows, Setter<V> setter) {
    v.allocateNew();
    for (int r = 0; r < rows; r++) {
      if (isNull(r)) {
        v.setNull(r);
      } else {
        setter.set(v, r);
      }
    }
    v.setValueCount(rows);
    return v;
  }

  private static Text text(String s) {
    return new Text(s);
  }

  private static ListVector list(BufferAllocator a, int rows) {
    ListVector v = ListVector.empty("list_int", a);
    UnionListWriter w = v.getWriter();
    for (int r = 0; r < rows; r++) {
      w.setPosition(r);
      if (isNull(r)) {
        w.writeNull();
        continue;
      }
      w.startList();
      for (int i = 0; i < r % 4; i++) {
        w.integer().writeInt(r * 10 + i);
      }
      w.endList();
    }
    v.setValueCount(rows);
    return v;
  }

  private static LargeListVector largeList(BufferAllocator a, int rows) {
    LargeListVector v = LargeListVector.empty("large_list_bigint", a);
    UnionLargeListWriter w = v.getWriter();
    for (int r = 0; r < rows; r++) {
      w.setPosition(r);
      if (isNull(r)) {
        w.writeNull();
        continue;
      }
      w.startList();
      for (int i = 0; i < r % 3; i++) {
        w.bigInt().writeBigInt((long) r * i);
      }
      w.endList();
    }
    v.setValueCount(rows);
    return v;
  }

  private static FixedSizeListVector fixedSizeList(BufferAllocator a, int rows) {
    FixedSizeListVector v = FixedSizeListVector.empty("fixed_list_f64", 2, a);
    UnionFixedSizeListWriter w = v.getWriter();
    for (int r = 0; r < rows; r++) {
      w.setPosition(r);
      if (isNull(r)) {
        w.writeNull();
        continue;
      }
      w.startList();
      w.float8().writeFloat8(r + 0.5);
      w.float8().writeFloat8(-r);
      w.endList();
    }
    v.setValueCount(rows);
    return v;
  }

  private static StructVector struct(BufferAllocator a, int rows) {
    StructVector v = StructVector.empty("struct", a);
    var w = v.getWriter();
    for (int r = 0; r < rows; r++) {
      w.setPosition(r);
      if (isNull(r)) {
        w.writeNull();
        continue;
      }
      w.start();
      w.integer("a").writeInt(r);
      StructWriter inner = w.struct("inner");
      inner.start();
      inner.float8("x").writeFloat8(r * 2.5);
      inner.end();
      w.end();
    }
    v.setValueCount(rows);
    return v;
  }

  private static MapVector map(BufferAllocator a, int rows) {
    // Declared in full, so that even with no row the map has its entries struct.
    Field entries = new Field("entries", FieldType.notNullable(ArrowType.Struct.INSTANCE), List.of(
        Field.notNullable("key", new ArrowType.Int(32, true)), Field.nullable("value", new ArrowType.Int(64, true))));
    MapVector v = (MapVector) new Field("map", FieldType.nullable(new ArrowType.Map(false)), List.of(entries)).createVector(a);
    UnionMapWriter w = v.getWriter();
    for (int r = 0; r < rows; r++) {
      w.setPosition(r);
      if (isNull(r)) {
        w.writeNull();
        continue;
      }
      w.startMap();
      for (int i = 0; i < r % 3; i++) {
        w.startEntry();
        w.key().integer().writeInt(i);
        w.value().bigInt().writeBigInt(r * 100L + i);
        w.endEntry();
      }
      w.endMap();
    }
    v.setValueCount(rows);
    return v;
  }

  /** A string column dictionary-encoded with dictionary id 7 (values "red", "green", "blue"). */
  static FieldVector dictionaryEncoded(BufferAllocator a, int rows, DictionaryProvider.MapDictionaryProvider provider) {
    Dictionary dict = provider.lookup(7);
    if (dict == null) {
      VarCharVector values = new VarCharVector(
          Field.nullable("colours", new ArrowType.Utf8()).getName(), a);
      values.allocateNew();
      String[] names = {"red", "green", "blue"};
      for (int i = 0; i < names.length; i++) {
        values.setSafe(i, text(names[i]));
      }
      values.setValueCount(names.length);
      dict = new Dictionary(values, new DictionaryEncoding(7, false, new ArrowType.Int(32, true)));
      provider.put(dict);
    }
    try (VarCharVector plain = new VarCharVector("dict_utf8", a)) {
      fill(plain, rows, (v, r) -> v.setSafe(r, text(new String[] {"red", "green", "blue"}[r % 3])));
      return (FieldVector) DictionaryEncoder.encode(plain, dict);
    }
  }

  /** Row-by-row text of a batch, dictionary-encoded columns decoded, for comparing batches. */
  static List<String> rowsOf(VectorSchemaRoot root, DictionaryProvider provider) {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < root.getRowCount(); r++) {
      StringBuilder sb = new StringBuilder();
      for (FieldVector v : root.getFieldVectors()) {
        Object o = v.getObject(r);
        var enc = v.getField().getDictionary();
        if (enc != null && o != null) {
          ValueVector dv = provider.lookup(enc.getId()).getVector();
          o = dv.getObject(((Number) o).intValue());
        }
        sb.append(v.getName()).append('=').append(render(o)).append(' ');
      }
      out.add(sb.toString());
    }
    return out;
  }

  private static String render(Object o) {
    if (o instanceof byte[] b) {
      return java.util.HexFormat.of().formatHex(b);
    }
    if (o instanceof Double d && d.isNaN()) {
      return "NaN";
    }
    return String.valueOf(o);
  }
}
