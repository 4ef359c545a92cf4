package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class JsonSyntaxTest {

  @Test
  void acceptsDocuments() {
    for (String ok : new String[] {
        "0", "-1", "1.5e-3", "1E+2", "\"x\"", "true", "false", "null", "[]", "{}", " [1, 2, 3] ",
        "{\"a\": [1, {\"b\": null}], \"c\": \"\\u00e9\\n\"}", "[[[]]]", "[\"\\\"\"]", "[-0.0]"}) {
      assertNull(JsonSyntax.check(ok), ok);
    }
  }

  @Test
  void refusesWhatIsNotJson() {
    for (String bad : new String[] {
        "", " ", "[", "]", "{", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "1.", ".5", "-", "1e", "tru", "nul",
        "\"x", "\"\\x\"", "\"\\u12g4\"", "[1] 2", "{\"a\":1}}", "\"a\nb\"", "NaN", "[1 2]", "{\"a\" 1}"}) {
      assertNotNull(JsonSyntax.check(bad), bad);
    }
  }

  @Test
  void nestingIsBoundedAndCostsNoStack() {
    int n = JsonSyntax.MAX_NESTING;
    assertNull(JsonSyntax.check("[".repeat(n) + "]".repeat(n)));
    assertNull(JsonSyntax.check("{\"a\":".repeat(n) + "1" + "}".repeat(n)));
    assertNotNull(JsonSyntax.check("[".repeat(n) + "]".repeat(n - 1)));
    // Deeper documents broke the consumers of the CLI's JSON output (Python's json recurses).
    String deep = JsonSyntax.check("[".repeat(n + 1) + "]".repeat(n + 1));
    assertTrue(deep != null && deep.contains("nested more than 512"), deep);
    assertNotNull(JsonSyntax.check("[".repeat(1_000_000) + "]".repeat(1_000_000)));
  }

  @Test
  void numbersAreBounded() {
    assertNull(JsonSyntax.check("1".repeat(JsonSyntax.MAX_NUMBER_CHARS)));
    assertNull(JsonSyntax.check("[-" + "1".repeat(JsonSyntax.MAX_NUMBER_CHARS - 1) + "]"));
    String big = JsonSyntax.check("[" + "1".repeat(100_001) + "]");
    assertTrue(big != null && big.contains("100001 characters"), big);
    assertNotNull(JsonSyntax.check("1." + "5".repeat(JsonSyntax.MAX_NUMBER_CHARS)));
  }
}
