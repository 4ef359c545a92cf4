package io.vineyard.objects.csv;

import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.Month;
import java.time.Year;

/**
 * Recognizes and parses typed values straight from the bytes of a field, so that type inference and
 * loading do not build a String per value. Each {@code parse} method returns whether the text
 * matches and, if so, leaves the value in {@link #longValue} or {@link #boolValue}. One instance
 * per pass; not thread-safe.
 */
final class CsvValueParser {

  private static final long MICROS_PER_SECOND = 1_000_000L;
  private static final long MICROS_PER_DAY = 86_400L * MICROS_PER_SECOND;
  private static final int[] FRACTION_SCALE = {0, 100_000, 10_000, 1_000, 100, 10, 1};

  /**
   * The result of the last successful {@link #parseLong}, {@link #parseDate} (epoch day) or {@link
   * #parseTimestamp} (epoch microseconds).
   */
  long longValue;

  /** The result of the last successful {@link #parseBool}. */
  boolean boolValue;

  /** {@code true} or {@code false}, in any letter case. */
  boolean parseBool(byte[] b, int off, int len) {
    if (len == 4
        && (b[off] | 0x20) == 't'
        && (b[off + 1] | 0x20) == 'r'
        && (b[off + 2] | 0x20) == 'u'
        && (b[off + 3] | 0x20) == 'e') {
      boolValue = true;
      return true;
    }
    if (len == 5
        && (b[off] | 0x20) == 'f'
        && (b[off + 1] | 0x20) == 'a'
        && (b[off + 2] | 0x20) == 'l'
        && (b[off + 3] | 0x20) == 's'
        && (b[off + 4] | 0x20) == 'e') {
      boolValue = false;
      return true;
    }
    return false;
  }

  /**
   * An optional sign and decimal digits that fit in a long, as {@link Long#parseLong} accepts, with no
   * leading zero (so {@code 007} stays text).
   */
  boolean parseLong(byte[] b, int off, int len) {
    int i = off;
    int end = off + len;
    if (i == end) {
      return false;
    }
    boolean negative = b[i] == '-';
    if (negative || b[i] == '+') {
      i++;
      if (i == end) {
        return false;
      }
    }
    if (b[i] == '0' && end - i > 1) {
      return false; // a leading zero (007, an id or a zip code) is text, not the number 7
    }
    // Accumulate negatively: the negative range is one larger, so Long.MIN_VALUE fits too.
    long floor = negative ? Long.MIN_VALUE : -Long.MAX_VALUE;
    long floorBeforeShift = floor / 10;
    long result = 0;
    while (i < end) {
      int digit = b[i++] - '0';
      if (digit < 0 || digit > 9 || result < floorBeforeShift) {
        return false;
      }
      result *= 10;
      if (result < floor + digit) {
        return false;
      }
      result -= digit;
    }
    longValue = negative ? result : -result;
    return true;
  }

  /**
   * Decimal floating-point text that {@link Double#parseDouble} accepts: an optional sign, then
   * {@code NaN}, {@code Infinity}, or digits with an optional point and an optional exponent. The
   * Java-only forms that parseDouble also takes (surrounding whitespace, hexadecimal, a trailing
   * {@code d} or {@code f}) are not treated as numbers, so text like {@code 1d} stays text.
   */
  boolean isDouble(byte[] b, int off, int len) {
    int i = off;
    int end = off + len;
    if (i < end && (b[i] == '+' || b[i] == '-')) {
      i++;
    }
    if (matches(b, i, end, "NaN") || matches(b, i, end, "Infinity")) {
      return true;
    }
    int digits = 0;
    int integerStart = i;
    while (i < end && isDigit(b[i])) {
      i++;
      digits++;
    }
    if (digits > 1 && b[integerStart] == '0') {
      return false; // a leading zero (007, 00.5) is text
    }
    if (i < end && b[i] == '.') {
      i++;
      while (i < end && isDigit(b[i])) {
        i++;
        digits++;
      }
    }
    if (digits == 0) {
      return false;
    }
    if (i < end && (b[i] == 'e' || b[i] == 'E')) {
      i++;
      if (i < end && (b[i] == '+' || b[i] == '-')) {
        i++;
      }
      int exponentDigits = 0;
      while (i < end && isDigit(b[i])) {
        i++;
        exponentDigits++;
      }
      if (exponentDigits == 0) {
        return false;
      }
      // Beyond the double range (1e400) the value would become Infinity or 0: keep it as text.
      if (i == end && exponentDigits >= 3) {
        double v = parseDouble(b, off, len);
        if (Double.isInfinite(v) || (v == 0 && hasNonZeroDigit(b, off, end))) {
          return false;
        }
      }
    }
    return i == end;
  }

  private static boolean hasNonZeroDigit(byte[] b, int from, int end) {
    for (int i = from; i < end && b[i] != 'e' && b[i] != 'E'; i++) {
      if (b[i] >= '1' && b[i] <= '9') {
        return true;
      }
    }
    return false;
  }

  /** The value of text for which {@link #isDouble} holds. */
  double parseDouble(byte[] b, int off, int len) {
    // The text is ASCII here, and Latin-1 decoding of ASCII is a plain copy.
    return Double.parseDouble(new String(b, off, len, StandardCharsets.ISO_8859_1));
  }

  /** A calendar date {@code yyyy-MM-dd}; the value is the epoch day. */
  boolean parseDate(byte[] b, int off, int len) {
    if (len != 10 || b[off + 4] != '-' || b[off + 7] != '-') {
      return false;
    }
    int year = digits(b, off, 4);
    int month = digits(b, off + 5, 2);
    int day = digits(b, off + 8, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1) {
      return false;
    }
    if (day > Month.of(month).length(Year.isLeap(year))) {
      return false;
    }
    longValue = LocalDate.of(year, month, day).toEpochDay();
    return true;
  }

  /**
   * A local date-time {@code yyyy-MM-dd'T'HH:mm[:ss[.f]]} with 'T' or a space between date and time
   * and 1 to 6 fraction digits; the value is microseconds since the epoch, read as UTC.
   */
  boolean parseTimestamp(byte[] b, int off, int len) {
    if (len < 16 || !parseDate(b, off, 10)) {
      return false;
    }
    long epochDay = longValue;
    byte separator = b[off + 10];
    if ((separator != 'T' && separator != ' ') || b[off + 13] != ':') {
      return false;
    }
    int hour = digits(b, off + 11, 2);
    int minute = digits(b, off + 14, 2);
    int second = 0;
    int micros = 0;
    int i = off + 16;
    int end = off + len;
    if (i < end) {
      if (end - i < 3 || b[i] != ':') {
        return false;
      }
      second = digits(b, i + 1, 2);
      i += 3;
      if (i < end) {
        int fractionDigits = end - i - 1;
        if (b[i] != '.' || fractionDigits < 1 || fractionDigits > 6) {
          return false;
        }
        int fraction = digits(b, i + 1, fractionDigits);
        if (fraction < 0) {
          return false;
        }
        micros = fraction * FRACTION_SCALE[fractionDigits];
      }
    }
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
      return false;
    }
    longValue =
        epochDay * MICROS_PER_DAY
            + ((hour * 60L + minute) * 60L + second) * MICROS_PER_SECOND
            + micros;
    return true;
  }

  /** The value of {@code count} decimal digits (at most 9), or -1 if any byte is not a digit. */
  private static int digits(byte[] b, int off, int count) {
    int value = 0;
    for (int i = off; i < off + count; i++) {
      if (!isDigit(b[i])) {
        return -1;
      }
      value = value * 10 + (b[i] - '0');
    }
    return value;
  }

  private static boolean isDigit(byte c) {
    return c >= '0' && c <= '9';
  }

  private static boolean matches(byte[] b, int from, int end, String ascii) {
    if (end - from != ascii.length()) {
      return false;
    }
    for (int k = 0; k < ascii.length(); k++) {
      if (b[from + k] != ascii.charAt(k)) {
        return false;
      }
    }
    return true;
  }
}
