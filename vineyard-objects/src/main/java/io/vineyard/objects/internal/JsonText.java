package io.vineyard.objects.internal;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.ArrayList;
import java.util.List;

/**
 * The little JSON the typed objects keep in metadata fields: flat arrays of integers and of
 * strings. Written and read here so that the fields stay readable in {@code vineyardctl inspect}.
 */
public final class JsonText {
  private JsonText() {}

  /** {@code [1,2,3]}. */
  public static String longs(long[] values) {
    StringBuilder sb = new StringBuilder(values.length * 4 + 2).append('[');
    for (int i = 0; i < values.length; i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(values[i]);
    }
    return sb.append(']').toString();
  }

  /** Parses a flat array of integers, as written by {@link #longs}. */
  public static long[] parseLongs(String json, String what) {
    String s = json.strip();
    if (s.length() < 2 || s.charAt(0) != '[' || s.charAt(s.length() - 1) != ']') {
      throw bad(what, json);
    }
    String body = s.substring(1, s.length() - 1).strip();
    if (body.isEmpty()) {
      return new long[0];
    }
    String[] parts = body.split(",", -1);
    long[] out = new long[parts.length];
    try {
      for (int i = 0; i < parts.length; i++) {
        out[i] = Long.parseLong(parts[i].strip());
      }
    } catch (NumberFormatException e) {
      throw bad(what, json);
    }
    return out;
  }

  /** {@code ["a","b"]}, with JSON string escapes. */
  public static String strings(List<String> values) {
    StringBuilder sb = new StringBuilder().append('[');
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      quote(sb, values.get(i));
    }
    return sb.append(']').toString();
  }

  /** Parses a flat array of strings, as written by {@link #strings}. */
  public static List<String> parseStrings(String json, String what) {
    List<String> out = new ArrayList<>();
    String s = json.strip();
    int i = 0;
    if (s.isEmpty() || s.charAt(i++) != '[') {
      throw bad(what, json);
    }
    i = skipSpace(s, i);
    if (i < s.length() && s.charAt(i) == ']') {
      return out;
    }
    while (true) {
      i = skipSpace(s, i);
      if (i >= s.length() || s.charAt(i) != '"') {
        throw bad(what, json);
      }
      StringBuilder v = new StringBuilder();
      i++;
      while (true) {
        if (i >= s.length()) {
          throw bad(what, json);
        }
        char c = s.charAt(i++);
        if (c == '"') {
          break;
        }
        if (c == '\\') {
          if (i >= s.length()) {
            throw bad(what, json);
          }
          char e = s.charAt(i++);
          switch (e) {
            case 'n' -> v.append('\n');
            case 'r' -> v.append('\r');
            case 't' -> v.append('\t');
            case 'b' -> v.append('\b');
            case 'f' -> v.append('\f');
            case 'u' -> {
              if (i + 4 > s.length()) {
                throw bad(what, json);
              }
              try {
                v.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
              } catch (NumberFormatException notHex) {
                throw bad(what, json);
              }
              i += 4;
            }
            default -> v.append(e);
          }
        } else {
          v.append(c);
        }
      }
      out.add(v.toString());
      i = skipSpace(s, i);
      if (i >= s.length()) {
        throw bad(what, json);
      }
      char c = s.charAt(i++);
      if (c == ']') {
        return out;
      }
      if (c != ',') {
        throw bad(what, json);
      }
    }
  }

  private static int skipSpace(String s, int i) {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
      i++;
    }
    return i;
  }

  /** Appends {@code value} as a JSON string literal. */
  public static void quote(StringBuilder sb, String value) {
    sb.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  private static VineyardException bad(String what, String json) {
    String shown = json.length() > 80 ? json.substring(0, 80) + "..." : json;
    return new VineyardException(ErrorCode.INVALID_ARGUMENT, "malformed metadata field '" + what + "': " + shown);
  }
}
