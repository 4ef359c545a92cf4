package io.vineyard.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConfigFileTest {

  private static final Path FILE = Path.of("vineyardd.conf");

  @Test
  void linesOfKeyEqualsValueOrKeyColonValue() {
    Map<String, String> v = ConfigFile.parse(FILE, List.of(
        "# comment",
        "",
        "  size = 2Gi  ",
        "etcd-endpoints = http://127.0.0.1:2379,http://127.0.0.2:2379",
        "shm-dir: /dev/shm/a=b",
        "reserve-memory=true",
        "rpc-host ="));
    assertEquals(Map.of("size", "2Gi", "etcd-endpoints", "http://127.0.0.1:2379,http://127.0.0.2:2379",
        "shm-dir", "/dev/shm/a=b", "reserve-memory", "true", "rpc-host", ""), v);
  }

  @Test
  void aLineWithoutEqualsIsRefusedWithItsNumber() {
    for (String bad : List.of("reserve-memory", "size 2Gi", "= 2Gi", "two words = x")) {
      VineyardException e = assertThrows(VineyardException.class, () -> ConfigFile.parse(FILE, List.of("# ok", bad)));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("is not 'key = value'"), e.getMessage());
    }
  }

  @Test
  void aKeySetTwiceIsRefused() {
    VineyardException e = assertThrows(VineyardException.class,
        () -> ConfigFile.parse(FILE, List.of("size = 1Gi", "rpc-port = 0", "size = 2Gi")));
    assertTrue(e.getMessage().contains("line 3: size is already set on line 1"), e.getMessage());
  }
}
