package io.vineyard.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Just enough JSON for the harness: writing nested maps and lists, and reading one flat object of numbers. */
final class Json {

  private static final Pattern FLAT_NUMBER =
      Pattern.compile("\"([^\"\\\\]+)\"\\s*:\\s*(-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)");

  private Json() {}

  /** Renders maps (nested), strings, numbers, booleans and null, indented by two spaces. */
  static String write(Map<String, ?> map) {
    StringBuilder sb = new StringBuilder();
    writeMap(sb, map, 0);
    return sb.append('\n').toString();
  }

  /** Renders a map on one line (for the child process's answer). */
  static String writeLine(Map<String, ?> map) {
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, ?> e : map.entrySet()) {
      if (!first) {
        sb.append(", ");
      }
      first = false;
      writeString(sb, e.getKey());
      sb.append(": ");
      writeValue(sb, e.getValue(), 0);
    }
    return sb.append('}').toString();
  }

  private static void writeMap(StringBuilder sb, Map<String, ?> map, int depth) {
    if (map.isEmpty()) {
      sb.append("{}");
      return;
    }
    sb.append("{\n");
    int i = 0;
    for (Map.Entry<String, ?> e : map.entrySet()) {
      sb.append("  ".repeat(depth + 1));
      writeString(sb, e.getKey());
      sb.append(": ");
      writeValue(sb, e.getValue(), depth + 1);
      sb.append(++i < map.size() ? ",\n" : "\n");
    }
    sb.append("  ".repeat(depth)).append('}');
  }

  @SuppressWarnings("unchecked")
  private static void writeValue(StringBuilder sb, Object v, int depth) {
    switch (v) {
      case null -> sb.append("null");
      case Map<?, ?> m -> writeMap(sb, (Map<String, ?>) m, depth);
      case List<?> l -> writeList(sb, l, depth);
      case Boolean b -> sb.append(b);
      case Double d -> sb.append(number(d));
      case Float f -> sb.append(number(f));
      case Number n -> sb.append(n.longValue());
      default -> writeString(sb, v.toString());
    }
  }

  /** A list on one line: [a, b, c] (the harnesses list per-rep figures). */
  private static void writeList(StringBuilder sb, List<?> list, int depth) {
    sb.append('[');
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) {
        sb.append(", ");
      }
      writeValue(sb, list.get(i), depth);
    }
    sb.append(']');
  }

  private static String number(double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      return "null";
    }
    if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      return Long.toString((long) d);
    }
    return String.format(Locale.ROOT, "%.4f", d).replaceAll("0+$", "").replaceAll("\\.$", "");
  }

  private static void writeString(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  /** The numeric members of a flat JSON object (other members are ignored). */
  static Map<String, Double> parseFlatNumbers(String json) {
    Map<String, Double> out = new LinkedHashMap<>();
    Matcher m = FLAT_NUMBER.matcher(json);
    while (m.find()) {
      out.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return out;
  }
}
