package io.vineyard.internal;

/**
 * Makes text that came from someone else safe to print on one line of a log or a terminal: control
 * characters (C0, DEL, C1), line and paragraph separators and the bidirectional overrides that can
 * reorder what a reader sees become visible escapes ({@code \n}, {@code \x1b}, {@code \u202e}), so
 * a client-supplied string can neither start a forged log line nor send terminal escape sequences.
 */
public final class Escapes {

  private Escapes() {}

  /** Whether {@code c} is escaped by {@link #printable}. */
  public static boolean isUnsafe(char c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029'
        || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069');
  }

  /** {@code s} with every unsafe character escaped; {@code s} itself when there is none (null stays null). */
  public static String printable(String s) {
    if (s == null) {
      return null;
    }
    int i = 0;
    while (i < s.length() && !isUnsafe(s.charAt(i))) {
      i++;
    }
    if (i == s.length()) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length() + 8).append(s, 0, i);
    for (; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!isUnsafe(c)) {
        b.append(c);
        continue;
      }
      switch (c) {
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c <= 0xff) {
            b.append(String.format("\\x%02x", (int) c));
          } else {
            b.append(String.format("\\u%04x", (int) c));
          }
        }
      }
    }
    return b.toString();
  }

  /** The first unsafe character of {@code s}, or -1 when there is none. */
  public static int firstUnsafe(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (isUnsafe(s.charAt(i))) {
        return i;
      }
    }
    return -1;
  }
}
