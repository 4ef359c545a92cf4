package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.server.testing.OtherUsers;
import io.vineyard.server.testing.RpcProbe;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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

      // The lists decide on the gRPC port too: the local token is the daemon's user's alone, so a user
      // the lists refuse cannot take it, even one in the daemon's group (root's group here).
      Path token = d.socket().resolveSibling(d.socket().getFileName() + ".token");
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(token)));
      String endpoint = d.info().rpcEndpoint();
      String inGroup = runAs(STRANGER, 0, work, RpcProbe.class, endpoint);
      assertTrue(inGroup.startsWith("REFUSED " + ErrorCode.UNAUTHENTICATED), "a refused user in the group got in: " + inGroup);
    }
  }

  /**
   * The gRPC port does not bypass the socket's mode: a user who may not use the socket cannot read
   * the daemon's local token file either, so a gRPC client run by that user (a real RpcClient, in a
   * JVM of that user) is refused; the daemon's own user, with the file, is let in.
   */
  @Test
  void anotherUserIsRefusedOnTheGrpcPortToo() throws Exception {
    Path work = OtherUsers.traversableDirectory(dir, "grpc");
    try (DaemonProcess d = DaemonProcess.start(work, "16Mi")) {
      Path token = d.socket().resolveSibling(d.socket().getFileName() + ".token");
      assertTrue(Files.exists(token), "the daemon writes its local token next to the socket");
      String endpoint = d.info().rpcEndpoint();
      Process cat = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + STRANGER, "--regid=" + STRANGER, "--clear-groups",
          "/bin/cat", token.toString()).redirectErrorStream(true).start();
      assertTrue(cat.waitFor(30, TimeUnit.SECONDS));
      String catOut = new String(cat.getInputStream().readAllBytes()).trim();
      assertTrue(cat.exitValue() != 0 && catOut.contains("Permission denied"), "the stranger read the token: " + catOut);

      String out = runAs(STRANGER, STRANGER, work, RpcProbe.class, endpoint);
      assertTrue(out.startsWith("REFUSED " + ErrorCode.UNAUTHENTICATED), "expected a refusal, got: " + out);
      assertTrue(out.contains(token.toString()), "the refusal names the token file the user may not read: " + out);

      String own = runAs(0, 0, work, RpcProbe.class, endpoint);
      assertTrue(own.startsWith("LISTED "), "the daemon's own user, who may read the token, is let in: " + own);
    }
  }

  /**
   * Runs {@code main} in a JVM of {@code uid} with this JVM's class path; jars the user may not read
   * (the Maven repository under /root) are copied into a directory of {@code work} first.
   */
  private static String runAs(int uid, int gid, Path work, Class<?> main, String... args) throws Exception {
    Path jars = work.resolve("jars");
    if (!Files.isDirectory(jars)) {
      OtherUsers.traversableDirectory(work, "jars");
    }
    List<String> cp = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      Path p = Path.of(entry);
      if (entry.startsWith("/root/") && Files.isRegularFile(p)) {
        Path copy = jars.resolve(cp.size() + "-" + p.getFileName());
        if (!Files.exists(copy)) {
          Files.copy(p, copy);
          Files.setPosixFilePermissions(copy, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        }
        cp.add(copy.toString());
      } else {
        cp.add(entry);
      }
    }
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
    cmd.add(ChildJvm.javaBinary());
    cmd.addAll(ChildJvm.JVM_FLAGS);
    cmd.addAll(List.of("-Xmx128m", "-cp", String.join(java.io.File.pathSeparator, cp), main.getName()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true);
    pb.environment().put("HOME", work.toString());
    Process p = pb.start();
    assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the other user's client did not finish");
    String out = new String(p.getInputStream().readAllBytes()).trim();
    return out.lines().filter(l -> l.startsWith("LISTED ") || l.startsWith("REFUSED ")).findFirst().orElse(out);
  }
}
