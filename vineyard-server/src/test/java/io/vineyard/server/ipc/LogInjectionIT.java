package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.UnixSocketConnection;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Text a client chooses cannot forge log lines or reach a terminal raw, and names cannot carry control characters. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class LogInjectionIT {

  private static final String FORGED = "2026-12-03T00:00:00.000 ERROR [main] Vineyardd - forged";

  @TempDir static Path work;
  static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(work, "16Mi");
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void aClientNameWithANewlineAndEscapesStaysOneEscapedLogLine() throws Exception {
    Request register = Request.newBuilder().setRequestId(1)
        .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2)
            .setClientName("evil\n" + FORGED + "\u001b[2J"))
        .build();
    try (UnixSocketConnection c = UnixSocketConnection.connect(daemon.socket(), Duration.ofSeconds(30))) {
      c.writeFrame(register);
      assertFalse(Response.parseFrom(c.readFrame(1 << 20)).hasError());
      // Registering twice breaks the protocol: the daemon logs a warning naming this client, and closes.
      c.writeFrame(register.toBuilder().setRequestId(2).build());
      Response r = Response.parseFrom(c.readFrame(1 << 20));
      assertEquals(ErrorCode.PROTOCOL_ERROR.code(), r.getError().getCode());
    }
    Poll.until(Duration.ofSeconds(10), Duration.ofMillis(50), "the daemon's warning",
        () -> daemon.log().contains("register sent twice"));
    String log = daemon.log();
    List<String> lines = log.lines().toList();
    String warning = lines.stream().filter(l -> l.contains("register sent twice")).findFirst().orElseThrow();
    assertTrue(warning.contains("evil\\n" + FORGED + "\\x1b[2J"), "escaped in place: " + warning);
    assertFalse(lines.stream().anyMatch(l -> l.startsWith(FORGED)), "no forged line in:\n" + log);
    assertFalse(log.contains("\u001b"), "no raw escape character in the log");
  }

  @Test
  void theLoggingSetUpItselfPrintsNothing() throws Exception {
    // A deprecated attribute in logback.xml made logback print its whole status (about 30 lines) at every start.
    assertFalse(daemon.log().contains("ch.qos.logback"), daemon.log());
  }

  @Test
  void namesWithControlCharactersAreRefused() {
    try (IpcClient c = daemon.connect()) {
      ObjectId id = c.putBlob(new byte[] {1});
      for (String bad : List.of("a\nb", "x\u001b[31m", "tab\there", "rtl\u202eexe", "del\u007f")) {
        VineyardException e = org.junit.jupiter.api.Assertions.assertThrows(VineyardException.class, () -> c.putName(bad, id));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), bad);
        assertFalse(e.getMessage().chars().anyMatch(ch -> ch < 0x20), "the message escapes it too: " + e.getMessage());
      }
      c.putName("ünïcødé-名前", id);
      assertEquals(id, c.getName("ünïcødé-名前"));
      c.dropName("ünïcødé-名前");
      c.delete(id);
    }
  }
}
