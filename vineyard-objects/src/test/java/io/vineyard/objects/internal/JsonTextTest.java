package io.vineyard.objects.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonTextTest {

  @Test
  void integerArraysRoundTrip() {
    long[] values = {0, -1, Long.MAX_VALUE, Long.MIN_VALUE, 42};
    assertEquals("[0,-1,9223372036854775807,-9223372036854775808,42]", JsonText.longs(values));
    assertArrayEquals(values, JsonText.parseLongs(JsonText.longs(values), "x"));
    assertArrayEquals(new long[0], JsonText.parseLongs("[]", "x"));
    assertArrayEquals(new long[] {1, 2}, JsonText.parseLongs(" [ 1 , 2 ] ", "x"));
  }

  @Test
  void stringArraysRoundTripWithEscapes() {
    List<String> values = List.of("", "plain", "a \"quoted\" word", "back\\slash", "new\nline\ttab\r", "\u0001", "héllo ✓");
    assertEquals(values, JsonText.parseStrings(JsonText.strings(values), "x"));
    assertEquals(List.of(), JsonText.parseStrings("[ ]", "x"));
    assertEquals(List.of("é"), JsonText.parseStrings("[\"\\u00e9\"]", "x"));
  }

  @Test
  void malformedTextIsAnInvalidArgumentNamingTheField() {
    for (String bad : List.of("", "[", "1,2", "[1,x]", "[1,]")) {
      VineyardException e = assertThrows(VineyardException.class, () -> JsonText.parseLongs(bad, "nodes"));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      assertEquals(true, e.getMessage().contains("'nodes'"), e.getMessage());
    }
    for (String bad : List.of("[\"a\"", "[a]", "[\"a\" \"b\"]", "[\"\\u12\"]")) {
      assertThrows(VineyardException.class, () -> JsonText.parseStrings(bad, "columns"));
    }
  }
}
