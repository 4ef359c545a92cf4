package io.vineyard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MemorySizeTest {

  private static final long KI = 1L << 10;
  private static final long MI = 1L << 20;
  private static final long GI = 1L << 30;
  private static final long TI = 1L << 40;

  @Test
  void documentedExamples() {
    assertEquals(512 * MI, MemorySize.parse("512Mi"));
    assertEquals(2 * GI, MemorySize.parse("2Gi"));
    assertEquals(1_500_000_000L, MemorySize.parse("1.5G"));
    assertEquals(64 * KI, MemorySize.parse("64KiB"));
    assertEquals(4096, MemorySize.parse("4096"));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({
    "0, 0",
    "1, 1",
    "1B, 1",
    "1b, 1",
    "1K, 1000",
    "1KB, 1000",
    "1k, 1000",
    "1Ki, 1024",
    "1KiB, 1024",
    "1kib, 1024",
    "1KIB, 1024",
    "3M, 3000000",
    "3MB, 3000000",
    "3Mi, 3145728",
    "3MiB, 3145728",
    "2G, 2000000000",
    "2GB, 2000000000",
    "2GiB, 2147483648",
    "1T, 1000000000000",
    "1Ti, 1099511627776",
    "1TiB, 1099511627776",
    "0.5Ki, 512",
    "1.5Gi, 1610612736",
    "'  42  ', 42",
    "'1 Gi', 1073741824",
    "'1.5 GiB', 1610612736",
    "8388607Ti, 9223370937343148032",
  })
  void parsesUnits(String text, long expected) {
    assertEquals(expected, MemorySize.parse(text));
  }

  @Test
  void fractionsOfAByteAreDropped() {
    assertEquals(1, MemorySize.parse("1.5"));
    assertEquals(1000, MemorySize.parse("1.0005K"));
    assertEquals(0, MemorySize.parse("0.4"));
  }

  @Test
  void decimalFractionsAreExactNotBinaryFloatingPoint() {
    // 1.001 * 1000 is 1000.9999999999999 in binary floating point; the size meant is 1001 bytes.
    assertEquals(1001, MemorySize.parse("1.001K"));
    assertEquals(1003, MemorySize.parse("1.003K"));
    assertEquals(2_300_000_000L, MemorySize.parse("2.3G"));
    assertEquals(4_350_000L, MemorySize.parse("4.35M"));
    assertEquals(1_100_000L, MemorySize.parse("1.1M"));
    for (int milli = 0; milli < 10_000; milli++) {
      String text = (milli / 1000) + "." + String.format("%03d", milli % 1000) + "K";
      assertEquals(milli, MemorySize.parse(text), text);
    }
  }

  @Test
  void exponentsAreAcceptedAndExtremeOnesStayCheap() {
    assertEquals(1000, MemorySize.parse("1e3"));
    assertEquals(1500, MemorySize.parse("1.5e3"));
    assertEquals(0, MemorySize.parse("1e-999999999"));
    VineyardException e = assertThrows(VineyardException.class, () -> MemorySize.parse("1e999999999"));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
  }

  @Test
  void largeIntegersAreExact() {
    assertEquals(9_007_199_254_740_993L, MemorySize.parse("9007199254740993")); // 2^53 + 1
    assertEquals(Long.MAX_VALUE, MemorySize.parse(Long.toString(Long.MAX_VALUE)));
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(
      strings = {
        "   ",
        "-1",
        "-1Gi",
        "-0.5K",
        "12X",
        "1Zi",
        "1Ei",
        "1 bytes",
        "1ib",
        "1KiBB",
        "Mi",
        "Gi",
        "B",
        "abc",
        "1.2.3",
        "1,5G",
        "0x10",
        "1e",
        "9223372036854775808", // Long.MAX_VALUE + 1
        "8388608Ti", // exactly 2^63
        "10000000T",
        "99999999999999999999Gi",
      })
  void malformedNegativeOrHugeSizesAreRejected(String text) {
    VineyardException e = assertThrows(VineyardException.class, () -> MemorySize.parse(text));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "0, 0 B",
    "1, 1 B",
    "1023, 1023 B",
    "1024, 1.0 KiB",
    "1536, 1.5 KiB",
    "65536, 64.0 KiB",
    "102400, 100 KiB",
    "536870912, 512 MiB",
    "1610612736, 1.5 GiB",
    "2147483648, 2.0 GiB",
    "1099511627776, 1.0 TiB",
    "1125899906842624, 1.0 PiB",
    "1152921504606846976, 1024 PiB",
    "9223372036854775807, 8192 PiB",
  })
  void formatsWithBinaryUnits(long bytes, String expected) {
    assertEquals(expected, MemorySize.format(bytes));
  }

  @Test
  void formattedSizesParseBack() {
    for (long bytes : new long[] {0, 1, 1023, 1536, 64 * KI, 100 * KI, 512 * MI, 3 * GI / 2, 2 * GI, TI}) {
      assertEquals(bytes, MemorySize.parse(MemorySize.format(bytes)), MemorySize.format(bytes));
    }
  }
}
