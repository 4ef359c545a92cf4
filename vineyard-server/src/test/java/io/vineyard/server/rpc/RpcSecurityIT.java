package io.vineyard.server.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.RpcClient;
import io.vineyard.server.Vineyardd;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The gRPC port lets in only callers with a token it accepts, and, with TLS, only over TLS with
 * certificates it trusts: a plaintext daemon with a rotating token file, and a daemon with mutual
 * TLS, each refusing what it must with {@link ErrorCode#UNAUTHENTICATED}.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class RpcSecurityIT {

  static final String OLD = "old-token-0123456789abcdef";
  static final String NEW = "new-token-0123456789abcdef";

  @TempDir static Path work;
  static Path tokens;
  static TestCertificates ca;
  static TestCertificates.Pair clientCert;
  static TestCertificates other;
  static TestCertificates.Pair otherClient;
  static DaemonProcess plain;
  static DaemonProcess tls;
  static String plainEndpoint;
  static String tlsEndpoint;

  @BeforeAll
  static void start() throws Exception {
    tokens = work.resolve("tokens.txt");
    Files.writeString(tokens, "# rotated by the test\n" + OLD + "\n");
    ca = TestCertificates.authority(work.resolve("pki"), "test");
    TestCertificates.Pair server = ca.issue("daemon");
    clientCert = ca.issue("client");
    other = TestCertificates.authority(work.resolve("pki"), "other");
    otherClient = other.issue("client");
    plain = DaemonProcess.start(Files.createDirectory(work.resolve("p")), "64Mi", "--rpc-token-file", tokens.toString());
    tls = DaemonProcess.start(Files.createDirectory(work.resolve("t")), "64Mi",
        "--tls-cert", server.certificate().toString(), "--tls-key", server.key().toString(),
        "--tls-client-ca", ca.caCertificate().toString());
    plainEndpoint = plain.info().rpcEndpoint();
    tlsEndpoint = tls.info().rpcEndpoint();
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {plain, tls}) {
      if (c != null) {
        c.close();
      }
    }
  }

  static VineyardException refused(RpcClient.Builder b) {
    try (RpcClient c = b.build()) {
      return assertThrows(VineyardException.class, c::stats);
    }
  }

  @Test
  void theLocalTokenFileIsNextToTheSocketReadableAsTheSocketIsWritable() throws Exception {
    Path file = Path.of(plain.socket() + ".token");
    assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)), "socket mode rw-rw----");
    try (RpcClient c = RpcClient.builder(plainEndpoint).tokenFile(file).localToken(false).build()) {
      assertEquals(plain.connect().instanceId(), c.stats().instanceId());
    }
  }

  @Test
  void noTokenIsRefusedAndNamesTheLocalTokenFile() {
    VineyardException e = refused(RpcClient.builder(plainEndpoint).localToken(false));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.getMessage().contains("no bearer token") && e.getMessage().contains(plain.socket() + ".token"), e.getMessage());
  }

  @Test
  void aWrongTokenIsRefusedEvenWhereTheLocalTokenCouldBeRead() {
    VineyardException e = refused(RpcClient.builder(plainEndpoint).token("wrong-token-0123456789abcdef"));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.getMessage().contains("does not accept"), e.getMessage());
  }

  @Test
  void aLocalClientWithoutATokenReadsTheLocalTokenFileForMetadataAndBlobs() {
    byte[] data = new byte[3 << 20];
    new Random(1).nextBytes(data);
    ObjectId blob;
    try (IpcClient ipc = plain.connect()) {
      blob = ipc.putBlob(data);
    }
    try (RpcClient c = RpcClient.connect(plainEndpoint)) {
      assertArrayEquals(data, c.fetchBlob(blob), "a fetch refused first, then let in with the local token");
    }
    try (RpcClient c = RpcClient.connect(plainEndpoint)) {
      assertEquals(1, c.instances().size());
    }
  }

  @Test
  void tokensRotateWithoutARestart() throws Exception {
    try (RpcClient old = RpcClient.builder(plainEndpoint).token(OLD).build();
        RpcClient neu = RpcClient.builder(plainEndpoint).token(NEW).build()) {
      old.stats();
      assertEquals(ErrorCode.UNAUTHENTICATED, assertThrows(VineyardException.class, neu::stats).code());
      Files.writeString(tokens, OLD + "\n" + NEW + "\n");
      old.stats(); // both accepted while clients move over
      neu.stats();
      Files.writeString(tokens, NEW + "\n");
      neu.stats();
      assertEquals(ErrorCode.UNAUTHENTICATED, assertThrows(VineyardException.class, old::stats).code());
    } finally {
      Files.writeString(tokens, OLD + "\n");
    }
  }

  @Test
  void mutualTlsWithATrustedCertificateAndTheTokenWorks() {
    try (RpcClient c = RpcClient.builder(tlsEndpoint).trust(ca.caCertificate())
        .clientCertificate(clientCert.certificate(), clientCert.key()).build()) {
      assertEquals(1, c.instances().size());
      assertTrue(c.toString().contains("TLS"));
    }
  }

  @Test
  void tlsWithoutTheTokenIsStillRefused() {
    VineyardException e = refused(RpcClient.builder(tlsEndpoint).trust(ca.caCertificate())
        .clientCertificate(clientCert.certificate(), clientCert.key()).localToken(false));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.getMessage().contains("no bearer token"), e.getMessage());
  }

  @Test
  void aServerCertificateFromAnUntrustedCaIsRefused() {
    VineyardException e = refused(RpcClient.builder(tlsEndpoint).trust(other.caCertificate())
        .clientCertificate(clientCert.certificate(), clientCert.key()));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.reason().startsWith("TLS with vineyardd at " + tlsEndpoint + " failed"), e.reason());
  }

  @Test
  void aClientCertificateFromAnUntrustedCaIsRefused() {
    VineyardException e = refused(RpcClient.builder(tlsEndpoint).trust(ca.caCertificate())
        .clientCertificate(otherClient.certificate(), otherClient.key()));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.getMessage().contains("TLS"), e.getMessage());
  }

  @Test
  void noClientCertificateIsRefusedByMutualTls() {
    VineyardException e = refused(RpcClient.builder(tlsEndpoint).trust(ca.caCertificate()));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
  }

  @Test
  void plaintextAgainstTlsIsRefused() {
    VineyardException e = refused(RpcClient.builder(tlsEndpoint));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.getMessage().contains("speaks TLS and this client does not"), e.getMessage());
  }

  @Test
  void tlsAgainstPlaintextIsRefused() {
    VineyardException e = refused(RpcClient.builder(plainEndpoint).trust(ca.caCertificate()));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
    assertTrue(e.getMessage().contains("TLS"), e.getMessage());
  }

  @Test
  void aNonLoopbackPortWithoutTlsRefusesToStart() {
    Vineyardd d = CommandLine.populateCommand(new Vineyardd(),
        "--socket", work.resolve("never.sock").toString(), "--rpc-host", "0.0.0.0", "--rpc-port", "0");
    CommandLine.ParameterException e = assertThrows(CommandLine.ParameterException.class, d::start);
    assertTrue(e.getMessage().contains("--rpc-host 0.0.0.0 is reachable from other hosts"), e.getMessage());
    assertTrue(Files.notExists(work.resolve("never.sock.token")), "refused before anything is written");
  }
}
