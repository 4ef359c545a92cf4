package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GlobTest {

  /** The meaning of a glob, as a regular expression: only for short inputs, where it is fast. */
  private static boolean reference(String glob, String text) {
    StringBuilder re = new StringBuilder();
    glob.codePoints().forEach(c -> {
      switch (c) {
        case '*' -> re.append(".*");
        case '?' -> re.append('.');
        default -> re.append(Pattern.quote(Character.toString(c)));
      }
    });
    return Pattern.compile(re.toString(), Pattern.DOTALL).matcher(text).matches();
  }

  @Test
  void matchesAsTheGlobSays() {
    Glob g = new Glob("vineyard::Tensor<*>");
    assertTrue(g.matches("vineyard::Tensor<double>"));
    assertTrue(g.matches("vineyard::Tensor<>"));
    assertFalse(g.matches("vineyard::Tensor<double>x"));
    assertTrue(new Glob("*").matches(""));
    assertTrue(new Glob("**").matches("anything"));
    assertFalse(new Glob("?").matches(""));
    assertTrue(new Glob("?").matches("\uD83D\uDE00"), "? is one character, even outside the BMP");
    assertTrue(new Glob("a*b*c").matches("abc"));
    assertTrue(new Glob("a*b*c").matches("aXbYbZc"));
    assertFalse(new Glob("a*b*c").matches("acb"));
    assertTrue(new Glob("").matches(""));
    assertFalse(new Glob("").matches("a"));
    assertFalse(new Glob("[ab]").matches("a"), "regex syntax is literal");
    assertTrue(new Glob("a.b").matches("a.b"));
    assertFalse(new Glob("a.b").matches("aXb"));
  }

  @Test
  void agreesWithTheReferenceOnRandomPatterns() {
    Random r = new Random(42);
    String alphabet = "ab*?";
    for (int n = 0; n < 20_000; n++) {
      StringBuilder p = new StringBuilder();
      for (int i = r.nextInt(12); i > 0; i--) {
        p.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      StringBuilder t = new StringBuilder();
      for (int i = r.nextInt(14); i > 0; i--) {
        t.append("abc".charAt(r.nextInt(3)));
      }
      assertEquals(reference(p.toString(), t.toString()), new Glob(p.toString()).matches(t.toString()),
          "'" + p + "' against '" + t + "'");
    }
  }

  @Test
  void longPatternsAgreeAcrossMachineWords() {
    // More than 64 positions: the automaton's states span several words.
    String p = "*" + "a?".repeat(70) + "*b";
    String yes = "x" + "ay".repeat(70) + "zzb";
    String no = "x" + "ay".repeat(69) + "zzb";
    assertTrue(new Glob(p).matches(yes));
    assertFalse(new Glob(p).matches(no));
    assertEquals(reference(p, yes), true);
  }

  /**
   * A backtracking matcher (a regular expression, or the two-pointer star matcher) takes time
   * proportional to the product of the lengths here, for each text: minutes for these 10,000 texts.
   */
  @Test
  void aPathologicalPatternCostsLinearTime() {
    String pattern = "*" + "a".repeat(500) + "b*";
    Glob g = new Glob(pattern);
    String[] texts = new String[10_000];
    for (int i = 0; i < texts.length; i++) {
      texts[i] = "a".repeat(4000) + i;
    }
    long start = System.nanoTime();
    for (String t : texts) {
      assertFalse(g.matches(t));
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 10_000, "10,000 matches took " + ms + " ms");

    Glob stars = new Glob("*".repeat(1000) + "x");
    start = System.nanoTime();
    for (String t : texts) {
      assertFalse(stars.matches(t));
    }
    ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 10_000, "1,000 stars: 10,000 matches took " + ms + " ms");
  }

  @Test
  void aTooLongPatternIsRefused() {
    VineyardException e = assertThrows(VineyardException.class, () -> new Glob("*".repeat(Glob.MAX_PATTERN + 1)));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
  }
}
