package io.vineyard.server.store;

import java.util.ArrayDeque;

/**
 * Checks that text is one JSON document (RFC 8259), without building it and without recursion (a
 * deeply nested document costs a counter, not a stack frame), in time linear in its length. JSON
 * fields are embedded as they are in the CLI's JSON output, so one stored broken document would
 * break every listing that shows it.
 */
final class JsonSyntax {

  /**
   * Deepest nesting of arrays and objects a document may have: the documents are read back by
   * consumers that recurse (Python's json stops near 1,000 levels), and the CLI prints them.
   */
  static final int MAX_NESTING = 512;

  /** Longest number literal, in characters (Python refuses integers of more than 4,300 digits). */
  static final int MAX_NUMBER_CHARS = 1000;

  private JsonSyntax() {}

  /** Null when {@code text} is one JSON document, else what is wrong and where. */
  static String check(String text) {
    Parser p = new Parser(text);
    try {
      p.document();
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  private static final class Parser {
    private final String s;
    private int i;
    /** Open containers: '{' or '['. */
    private final ArrayDeque<Character> open = new ArrayDeque<>();

    Parser(String s) {
      this.s = s;
    }

    void document() {
      value();
      while (!open.isEmpty()) {
        skipSpace();
        char c = next("',' or the end of " + (open.peek() == '{' ? "an object" : "an array"));
        char close = open.peek() == '{' ? '}' : ']';
        if (c == close) {
          open.pop();
        } else if (c == ',') {
          if (open.peek() == '{') {
            key();
          }
          value();
        } else {
          throw fail("expected ',' or '" + close + "'", i - 1);
        }
      }
      skipSpace();
      if (i < s.length()) {
        throw fail("text after the document", i);
      }
    }

    /** One value; a container is opened and its first element read (the rest by {@link #document}). */
    private void value() {
      while (true) {
        skipSpace();
        char c = next("a value");
        switch (c) {
          case '{' -> {
            checkNesting();
            skipSpace();
            if (peek() == '}') {
              i++;
              return;
            }
            push('{');
            key();
            continue; // its first value
          }
          case '[' -> {
            checkNesting();
            skipSpace();
            if (peek() == ']') {
              i++;
              return;
            }
            push('[');
            continue;
          }
          case '"' -> string();
          case 't' -> literal("rue");
          case 'f' -> literal("alse");
          case 'n' -> literal("ull");
          default -> {
            if (c == '-' || (c >= '0' && c <= '9')) {
              number();
            } else {
              throw fail("unexpected '" + printable(c) + "'", i - 1);
            }
          }
        }
        return;
      }
    }

    /** A container opens (just read): refused when it would be more than {@link #MAX_NESTING} deep, empty or not. */
    private void checkNesting() {
      if (open.size() >= MAX_NESTING) {
        throw fail("nested more than " + MAX_NESTING + " levels deep", i - 1);
      }
    }

    private void push(char c) {
      open.push(c);
    }

    private void key() {
      skipSpace();
      if (next("a key") != '"') {
        throw fail("expected a string key", i - 1);
      }
      string();
      skipSpace();
      if (next("':'") != ':') {
        throw fail("expected ':'", i - 1);
      }
    }

    private void string() {
      while (true) {
        char c = next("the end of a string");
        if (c == '"') {
          return;
        }
        if (c < 0x20) {
          throw fail("control character in a string", i - 1);
        }
        if (c == '\\') {
          char e = next("an escape");
          if (e == 'u') {
            for (int k = 0; k < 4; k++) {
              if (Character.digit(next("a hex digit"), 16) < 0) {
                throw fail("bad \\u escape", i - 1);
              }
            }
          } else if ("\"\\/bfnrt".indexOf(e) < 0) {
            throw fail("bad escape", i - 1);
          }
        }
      }
    }

    private void number() {
      int start = i - 1;
      if (s.charAt(start) == '-') {
        if (i >= s.length() || !isDigit(s.charAt(i))) {
          throw fail("bad number", start);
        }
        i++;
      }
      if (s.charAt(i - 1) == '0' && i < s.length() && isDigit(s.charAt(i))) {
        throw fail("leading zero", start);
      }
      digits();
      if (peek() == '.') {
        i++;
        requireDigit(start);
        digits();
      }
      if (peek() == 'e' || peek() == 'E') {
        i++;
        if (peek() == '+' || peek() == '-') {
          i++;
        }
        requireDigit(start);
        digits();
      }
      if (i - start > MAX_NUMBER_CHARS) {
        throw fail("a number of " + (i - start) + " characters, more than " + MAX_NUMBER_CHARS, start);
      }
    }

    private void requireDigit(int start) {
      if (i >= s.length() || !isDigit(s.charAt(i))) {
        throw fail("bad number", start);
      }
    }

    private void digits() {
      while (i < s.length() && isDigit(s.charAt(i))) {
        i++;
      }
    }

    private static boolean isDigit(char c) {
      return c >= '0' && c <= '9';
    }

    private void literal(String rest) {
      if (!s.startsWith(rest, i)) {
        throw fail("unexpected word", i - 1);
      }
      i += rest.length();
    }

    private void skipSpace() {
      while (i < s.length()) {
        char c = s.charAt(i);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          return;
        }
        i++;
      }
    }

    private char peek() {
      return i < s.length() ? s.charAt(i) : '\0';
    }

    private char next(String expected) {
      if (i >= s.length()) {
        throw fail("ended where " + expected + " was expected", i);
      }
      return s.charAt(i++);
    }

    private static String printable(char c) {
      return c < 0x20 || c >= 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c);
    }

    private IllegalArgumentException fail(String what, int at) {
      return new IllegalArgumentException(what + " at offset " + at);
    }
  }
}
