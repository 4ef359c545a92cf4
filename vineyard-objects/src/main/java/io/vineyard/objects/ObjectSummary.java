package io.vineyard.objects;

import io.vineyard.ObjectMeta;
import io.vineyard.objects.internal.ArrowBody;
import io.vineyard.objects.internal.JsonText;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A few lines on a typed object for people (what {@code vineyardctl inspect} prints above the
 * metadata tree), from its metadata alone: no blob is read, so it works for objects on any instance.
 */
public final class ObjectSummary {
  private ObjectSummary() {}

  /** The summary of an object of a built-in type; empty for other types. */
  public static Optional<List<String>> of(ObjectMeta meta) {
    List<String> out = new ArrayList<>();
    switch (meta.typename()) {
      case DataFrame.TYPENAME -> {
        out.add("DataFrame: " + meta.getLong(ArrowBody.NUM_ROWS) + " rows, " + meta.getLong(FrameCodec.NUM_COLUMNS) + " columns");
        schema(meta, out);
      }
      case Table.TYPENAME -> {
        long n = meta.getLong(Table.NUM_BATCHES);
        out.add("Table: " + meta.getLong(ArrowBody.NUM_ROWS) + " rows in " + n + " batches, "
            + meta.getLong(FrameCodec.NUM_COLUMNS) + " columns");
        schema(meta, out);
        out.add("batches:");
        for (int i = 0; i < Math.min(n, meta.members().size()); i++) {
          ObjectMeta b = meta.members().get(Table.batchMember(i));
          if (b != null) {
            out.add("  " + i + "  " + b.id() + "  " + b.getLong(ArrowBody.NUM_ROWS) + " rows  " + io.vineyard.MemorySize.format(b.nbytes()));
          }
        }
      }
      case GlobalDataFrame.TYPENAME -> {
        long n = meta.getLong(GlobalObject.NUM_CHUNKS);
        out.add("GlobalDataFrame: " + meta.getLong(ArrowBody.NUM_ROWS) + " rows in " + n + " chunks");
        schema(meta, out);
        chunks(meta, n, out, c -> c.getLong(ArrowBody.NUM_ROWS) + " rows");
      }
      case Tensor.TYPENAME -> out.add("Tensor: " + meta.getString(Tensor.DTYPE) + " " + meta.getString(Tensor.SHAPE));
      case GlobalTensor.TYPENAME -> {
        long n = meta.getLong(GlobalObject.NUM_CHUNKS);
        out.add("GlobalTensor: " + meta.getString(Tensor.DTYPE) + " " + meta.getString(Tensor.SHAPE) + " in " + n + " chunks");
        chunks(meta, n, out, c -> "shape " + c.getString(Tensor.SHAPE));
      }
      case Graph.TYPENAME -> {
        out.add("Graph: " + meta.getLong(Graph.VERTEX_COUNT) + " vertices, " + meta.getLong(Graph.EDGE_COUNT) + " edges (CSR)");
        for (String part : List.of("vertices", "edges")) {
          ObjectMeta df = meta.members().get(part);
          if (df != null && df.hasField(FrameCodec.COLUMNS)) {
            out.add(part + " columns: " + String.join(", ", JsonText.parseStrings(df.getString(FrameCodec.COLUMNS), FrameCodec.COLUMNS)));
          }
        }
      }
      default -> {
        return Optional.empty();
      }
    }
    return Optional.of(out);
  }

  private static void chunks(ObjectMeta meta, long n, List<String> out, java.util.function.Function<ObjectMeta, String> what) {
    out.add("chunks:");
    for (int i = 0; i < Math.min(n, meta.members().size()); i++) {
      ObjectMeta c = meta.members().get(GlobalObject.chunkMember(i));
      if (c != null) {
        out.add("  " + i + "  " + c.id() + "  instance " + c.instanceId() + "  " + what.apply(c));
      }
    }
  }

  private static void schema(ObjectMeta meta, List<String> out) {
    Schema s = FrameCodec.decodeSchema(meta);
    out.add("schema:");
    for (Field f : s.getFields()) {
      out.add("  " + f.getName() + ": " + describe(f));
    }
  }

  /** A field's type as one line: {@code list<int32>}, {@code utf8 (dictionary 3, int32 indices)}, ... */
  static String describe(Field f) {
    StringBuilder sb = new StringBuilder(f.getType().toString());
    if (!f.getChildren().isEmpty()) {
      sb.append('<');
      for (int i = 0; i < f.getChildren().size(); i++) {
        Field c = f.getChildren().get(i);
        sb.append(i > 0 ? ", " : "").append(c.getName()).append(": ").append(describe(c));
      }
      sb.append('>');
    }
    if (f.getDictionary() != null) {
      sb.append(" (dictionary ").append(f.getDictionary().getId()).append(", ").append(f.getDictionary().getIndexType()).append(" indices)");
    }
    if (!f.isNullable()) {
      sb.append(" not null");
    }
    return sb.toString();
  }

  /** Whether a field holds a bulky encoding that a summary replaces (the schema). */
  public static boolean isEncodedSchema(String field) {
    return FrameCodec.SCHEMA.equals(field);
  }
}
