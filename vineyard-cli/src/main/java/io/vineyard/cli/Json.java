package io.vineyard.cli;

import io.vineyard.ObjectMeta;
import io.vineyard.internal.Escapes;
import java.util.Collection;
import java.util.Map;

/** Just enough JSON writing for the CLI's output. */
final class Json {

  private Json() {}

  static String string(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        default -> {
          if (c < 0x20 || Escapes.isUnsafe(c)) { // C1 controls and bidi overrides too: JSON may reach a terminal
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  static String strings(Collection<String> values) {
    StringBuilder b = new StringBuilder("[");
    for (String v : values) {
      if (b.length() > 1) {
        b.append(", ");
      }
      b.append(string(v));
    }
    return b.append(']').toString();
  }

  /** A field value: JSON fields are embedded as documents, doubles that JSON cannot hold as strings. */
  static String value(Object v) {
    return switch (v) {
      case String s -> string(s);
      case Long l -> l.toString();
      case Double d -> d.isNaN() || d.isInfinite() ? string(d.toString()) : d.toString();
      case Boolean z -> z.toString();
      case ObjectMeta.Json j -> j.text();
      default -> string(String.valueOf(v));
    };
  }

  /** An object's metadata tree, members expanded. */
  static String meta(ObjectMeta m, int indent) {
    String pad = "  ".repeat(indent + 1);
    String end = "  ".repeat(indent);
    StringBuilder b = new StringBuilder("{\n");
    b.append(pad).append("\"id\": ").append(string(String.valueOf(m.id()))).append(",\n");
    b.append(pad).append("\"typename\": ").append(string(m.typename())).append(",\n");
    b.append(pad).append("\"size_bytes\": ").append(m.nbytes()).append(",\n");
    b.append(pad).append("\"instance_id\": ").append(m.instanceId()).append(",\n");
    b.append(pad).append("\"global\": ").append(m.isGlobal()).append(",\n");
    b.append(pad).append("\"fields\": {");
    int i = 0;
    for (Map.Entry<String, Object> f : NaturalOrder.sorted(m.fields())) {
      b.append(i++ == 0 ? "\n" : ",\n").append(pad).append("  ").append(string(f.getKey())).append(": ").append(value(f.getValue()));
    }
    b.append(i > 0 ? "\n" + pad : "").append("},\n");
    b.append(pad).append("\"members\": {");
    i = 0;
    for (Map.Entry<String, ObjectMeta> e : NaturalOrder.sorted(m.members())) {
      b.append(i++ == 0 ? "\n" : ",\n").append(pad).append("  ").append(string(e.getKey())).append(": ")
          .append(meta(e.getValue(), indent + 2));
    }
    b.append(i > 0 ? "\n" + pad : "").append("}\n");
    return b.append(end).append('}').toString();
  }
}
