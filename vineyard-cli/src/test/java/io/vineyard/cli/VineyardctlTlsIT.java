package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code vineyardctl --rpc} against a daemon whose gRPC port speaks TLS: --tls-ca, --token-file, exit code 6. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class VineyardctlTlsIT {

  @TempDir static Path work;
  static DaemonProcess daemon;
  static TestCertificates ca;
  static TestCertificates other;
  static Path good;
  static Path wrong;
  static String endpoint;

  @BeforeAll
  static void start() throws Exception {
    ca = TestCertificates.authority(work.resolve("pki"), "ctl");
    other = TestCertificates.authority(work.resolve("pki"), "other");
    TestCertificates.Pair cert = ca.issue("daemon");
    good = work.resolve("good.token");
    Files.writeString(good, "good-token-0123456789abcdef\n");
    wrong = work.resolve("wrong.token");
    Files.writeString(wrong, "wrong-token-0123456789abcdef\n");
    daemon = DaemonProcess.start(Files.createDirectory(work.resolve("d")), "64Mi",
        "--tls-cert", cert.certificate().toString(), "--tls-key", cert.key().toString(), "--rpc-token-file", good.toString());
    endpoint = daemon.info().rpcEndpoint();
  }

  @AfterAll
  static void stop() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  static CtlRun ctl(String... args) {
    return CtlRun.run(new byte[0], args);
  }

  @Test
  void theCaAndTheLocalTokenLetIn() {
    ctl("--rpc", endpoint, "--tls-ca", ca.caCertificate().toString(), "stats").ok();
  }

  @Test
  void aTokenFileLetsIn() {
    ctl("--rpc", endpoint, "--tls-ca", ca.caCertificate().toString(), "--token-file", good.toString(), "instances").ok();
  }

  @Test
  void aWrongTokenExitsWith6() {
    CtlRun r = ctl("--rpc", endpoint, "--tls-ca", ca.caCertificate().toString(), "--token-file", wrong.toString(), "stats")
        .fails(ExitCodes.UNAUTHENTICATED);
    assertTrue(r.stderr().contains("does not accept"), r::toString);
  }

  @Test
  void anUntrustedCertificateExitsWith6() {
    CtlRun r = ctl("--rpc", endpoint, "--tls-ca", other.caCertificate().toString(), "stats").fails(ExitCodes.UNAUTHENTICATED);
    assertTrue(r.stderr().contains("TLS with vineyardd at " + endpoint + " failed"), r::toString);
  }

  @Test
  void plaintextAgainstTlsExitsWith6() {
    CtlRun r = ctl("--rpc", endpoint, "stats").fails(ExitCodes.UNAUTHENTICATED);
    assertTrue(r.stderr().contains("speaks TLS"), r::toString);
  }
}
