package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/** {@code gc --older-than}: what ages parse, and the clear refusal of ages the clock cannot hold. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GcAgeTest {

  private final GcCommand.Age age = new GcCommand.Age();

  @Test
  void parsesEachUnit() {
    assertEquals(Duration.ofSeconds(30), age.convert("30s"));
    assertEquals(Duration.ofMinutes(10), age.convert("10m"));
    assertEquals(Duration.ofHours(1), age.convert(" 1H "));
    assertEquals(Duration.ofDays(2), age.convert("2d"));
    assertEquals(Duration.ZERO, age.convert("0s"));
    assertEquals(Duration.ZERO, age.convert("000s"));
    assertEquals(Duration.ofDays(1), age.convert("0000000000000000000001d"));
    assertEquals(GcCommand.MAX_AGE, age.convert("36500d"));
    assertEquals(GcCommand.MAX_AGE, age.convert(GcCommand.MAX_AGE.toSeconds() + "s"));
  }

  @Test
  void refusesAgesPastACenturyInsteadOfOverflowing() {
    for (String text : new String[] {"36501d", "99999999999999d", "9223372036854775807s", "99999999999999999999999h",
        (GcCommand.MAX_AGE.toSeconds() + 1) + "s"}) {
      CommandLine.TypeConversionException e =
          assertThrows(CommandLine.TypeConversionException.class, () -> age.convert(text), text);
      assertTrue(e.getMessage().contains("too long an age") && e.getMessage().contains("36500 days"), e.getMessage());
    }
  }

  @Test
  void refusesWhatIsNotAnAge() {
    for (String text : new String[] {"", "1", "d", "-1d", "1w", "1.5h", "1 d"}) {
      CommandLine.TypeConversionException e =
          assertThrows(CommandLine.TypeConversionException.class, () -> age.convert(text), text);
      assertTrue(e.getMessage().contains("is not an age"), e.getMessage());
    }
  }
}
