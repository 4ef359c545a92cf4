package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Every test of {@link UnixSocketConnectionTest} again, on a connection over the JDK's channels. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChannelSocketConnectionTest extends UnixSocketConnectionTest {

  @Override
  UnixSocketConnection open(Path path, Duration timeout) {
    return UnixSocketConnection.connectWithoutDescriptors(path, timeout);
  }

  @Test
  void itSaysItPassesNoDescriptors() throws Exception {
    try (UnixSocketConnection c = UnixSocketConnection.connectWithoutDescriptors(socketPath, Duration.ofSeconds(5))) {
      assertFalse(c.passesDescriptors());
    }
    try (UnixSocketConnection c = UnixSocketConnection.connect(socketPath, Duration.ofSeconds(5))) {
      assertTrue(c.passesDescriptors());
    }
  }
}
