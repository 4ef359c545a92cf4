package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

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
  void deepNestingCostsNoStack() {
    int n = 1_000_000;
    assertNull(JsonSyntax.check("[".repeat(n) + "]".repeat(n)));
    assertNotNull(JsonSyntax.check("[".repeat(n) + "]".repeat(n - 1)));
    assertNull(JsonSyntax.check("{\"a\":".repeat(n) + "1" + "}".repeat(n)));
  }
}
