package io.vineyard;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;

/** Parses and prints byte sizes: {@code 4096}, {@code 512Mi}, {@code 2Gi}, {@code 1.5G}, {@code 64KiB}. */
public final class MemorySize {

  private MemorySize() {}

  /**
   * Parses a size. Binary suffixes ({@code Ki, Mi, Gi, Ti}, optionally followed by {@code B}) are
   * powers of 1024; decimal ones ({@code K, M, G, T}, optionally with {@code B}) powers of 1000.
   *
   * @throws VineyardException with {@link ErrorCode#INVALID_ARGUMENT} on malformed or negative input
   */
  public static long parse(String text) {
    if (text == null || text.isBlank()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "empty size");
    }
    String s = text.trim();
    int end = s.length();
    while (end > 0 && Character.isLetter(s.charAt(end - 1))) {
      end--;
    }
    String number = s.substring(0, end).trim();
    String unit = s.substring(end).toLowerCase(Locale.ROOT);
    if (unit.endsWith("b") && unit.length() > 1) {
      unit = unit.substring(0, unit.length() - 1);
      if (unit.equals("b")) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "unknown size unit in '" + text + "'");
      }
    }
    long multiplier =
        switch (unit) {
          case "", "b" -> 1L;
          case "k" -> 1000L;
          case "m" -> 1000L * 1000;
          case "g" -> 1000L * 1000 * 1000;
          case "t" -> 1000L * 1000 * 1000 * 1000;
          case "ki" -> 1L << 10;
          case "mi" -> 1L << 20;
          case "gi" -> 1L << 30;
          case "ti" -> 1L << 40;
          default -> throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "unknown size unit in '" + text + "'");
        };
    try {
      // Decimal arithmetic: in binary floating point 1.001K would be 1000 bytes, and integers over
      // 2^53 would lose their low bits.
      BigDecimal value = new BigDecimal(number);
      BigDecimal bytes = value.multiply(BigDecimal.valueOf(multiplier));
      if (value.signum() < 0 || bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "size out of range: " + text);
      }
      // Below one byte it is 0 (and a value of 1 or more has few fraction digits, so this is cheap).
      return bytes.compareTo(BigDecimal.ONE) < 0 ? 0 : bytes.setScale(0, RoundingMode.FLOOR).longValueExact();
    } catch (NumberFormatException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "not a size: '" + text + "'", e);
    }
  }

  /** A short human form with binary units, e.g. {@code 1.5 GiB}. */
  public static String format(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int i = -1;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.1f %s", v, units[i]);
  }
}
