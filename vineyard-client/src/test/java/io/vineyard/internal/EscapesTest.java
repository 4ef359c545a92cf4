package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class EscapesTest {

  @Test
  void textWithNothingUnsafeIsReturnedAsItIs() {
    String s = "training-set/2026 ünïcødé 名前 \\n literal";
    assertSame(s, Escapes.printable(s));
    assertEquals(-1, Escapes.firstUnsafe(s));
  }

  @Test
  void aForgedLogLineAndTerminalEscapesBecomeVisible() {
    assertEquals("x\\n2026-12-03 ERROR forged", Escapes.printable("x\n2026-12-03 ERROR forged"));
    assertEquals("\\x1b[31mred\\x1b[0m\\r", Escapes.printable("\u001b[31mred\u001b[0m\r"));
    assertEquals("a\\tb\\x00\\x7f\\x9b", Escapes.printable("a\tb\u0000\u007f\u009b"));
    assertEquals("evil\\u202etxt.exe\\u2028", Escapes.printable("evil\u202etxt.exe\u2028"));
    assertEquals(1, Escapes.firstUnsafe("a\nb"));
  }
}
