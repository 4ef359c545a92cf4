package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.server.testing.OtherUsers;
import io.vineyard.testing.Poll;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Other local users on the socket: refused by its file mode, and, with --allow-uids, by their
 * credentials. Needs root, to run a client as another uid ({@code setpriv}); skipped otherwise.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SocketUsersIT {

  private static final int STRANGER = 54_321;
  private static final int FRIEND = 54_322;

  static Path dir;

  @BeforeAll
  static void needsRoot() throws IOException {
    OtherUsers.assumeRootWithSetpriv();
    // A directory every user may traverse: the socket's own mode decides.
    dir = OtherUsers.traversableDirectory(null, "vy-users-");
    Files.writeString(dir.resolve("OtherUser.java"), """
        import java.nio.ByteBuffer;
        import java.nio.channels.SocketChannel;
        public class OtherUser {
          public static void main(String[] a) throws Exception {
            try (SocketChannel ch = SocketChannel.open(java.net.UnixDomainSocketAddress.of(a[0]))) {
              ch.write(ByteBuffer.wrap(java.util.HexFormat.of().parseHex(a[1])));
              ByteBuffer len = ByteBuffer.allocate(4);
              while (len.hasRemaining()) { if (ch.read(len) < 0) { System.out.println("EOF"); return; } }
              ByteBuffer body = ByteBuffer.allocate(len.flip().getInt());
              while (body.hasRemaining()) { if (ch.read(body) < 0) { System.out.println("EOF"); return; } }
              System.out.println("FRAME " + java.util.HexFormat.of().formatHex(body.array()));
            } catch (java.io.IOException e) {
              System.out.println("IOERROR " + e.getMessage());
            }
          }
        }
        """);
  }

  @AfterAll
  static void cleanUp() throws IOException {
    OtherUsers.delete(dir);
  }

  /** Registers on {@code socket} as {@code uid} from a JVM of that user; returns what it printed. */
  private static String registerAs(int uid, Path socket) throws Exception {
    Request register = Request.newBuilder().setRequestId(1)
        .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName("other"))
        .build();
    byte[] body = register.toByteArray();
    byte[] frame = ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array();
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
        java, "-XX:-UsePerfData", "-Xshare:auto", dir.resolve("OtherUser.java").toString(), socket.toString(),
        HexFormat.of().formatHex(frame))
        .directory(dir.toFile()).redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the other user's client did not finish");
    return new String(p.getInputStream().readAllBytes()).trim();
  }

  private static Response frame(String out) throws Exception {
    assertTrue(out.startsWith("FRAME "), "expected an answer, got: " + out);
    return Response.parseFrom(HexFormat.of().parseHex(out.substring(6)));
  }

  @Test
  void anotherUserIsRefusedByTheSocketsMode() throws Exception {
    Path work = OtherUsers.traversableDirectory(dir, "mode");
    try (DaemonProcess d = DaemonProcess.start(work, "16Mi")) { // --socket-mode rw-rw---- by default
      String out = registerAs(STRANGER, d.socket());
      assertTrue(out.startsWith("IOERROR") && out.contains("Permission denied"), out);
    }
  }

  @Test
  void withAllowUidsOnlyListedUsersAndTheDaemonsOwnRegister() throws Exception {
    Path work = OtherUsers.traversableDirectory(dir, "allow");
    try (DaemonProcess d = DaemonProcess.start(work, "16Mi", "--socket-mode", "rw-rw-rw-", "--allow-uids", String.valueOf(FRIEND))) {
      Response refused = frame(registerAs(STRANGER, d.socket()));
      assertEquals(ErrorCode.PERMISSION_DENIED.code(), refused.getError().getCode(), refused.toString());
      Poll.until(Duration.ofSeconds(10), Duration.ofMillis(50), "the refusal in the log",
          () -> d.log().contains("refused connection from pid=") && d.log().contains("uid=" + STRANGER));

      Response admitted = frame(registerAs(FRIEND, d.socket()));
      assertTrue(admitted.hasRegister(), admitted.toString());
      // The daemon's own user (root here) is always admitted.
      d.connect().close();
      List<String> refusals = d.log().lines().filter(l -> l.contains("refused connection")).toList();
      assertEquals(1, refusals.size(), String.join("\n", refusals));
    }
  }
}
