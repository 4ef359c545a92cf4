package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import org.junit.jupiter.api.Test;

class HostPortTest {

  @Test
  void parsesHostAndPort() {
    assertEquals(new HostPort("node-1", 9700), HostPort.parse("node-1:9700", 9600));
    assertEquals(new HostPort("127.0.0.1", 9600), HostPort.parse(" 127.0.0.1 ", 9600));
    assertEquals(new HostPort("::1", 9601), HostPort.parse("[::1]:9601", 9600));
    assertEquals(new HostPort("fe80::1", 9600), HostPort.parse("[fe80::1]", 9600));
    assertEquals("[::1]:9601", new HostPort("::1", 9601).toString());
    assertEquals("node-1:9700", HostPort.parse("node-1:9700", 1).toString());
  }

  @Test
  void rejectsWhatIsNotAnEndpoint() {
    for (String bad : new String[] {"", " ", ":9600", "host:", "host:x", "host:0", "host:65536", "::1", "[::1", "[::1]x"}) {
      VineyardException e = assertThrows(VineyardException.class, () -> HostPort.parse(bad, 9600), bad);
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), bad);
    }
  }
}
