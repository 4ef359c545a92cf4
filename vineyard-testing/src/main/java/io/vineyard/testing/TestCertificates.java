package io.vineyard.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A certificate authority made at test time with the JDK's {@code keytool} (EC P-256, valid two
 * days), and certificates it signs for {@code 127.0.0.1} and {@code localhost}, written as PEM: the
 * CA certificate, each certificate, and each private key as PKCS#8. Nothing is committed.
 */
public final class TestCertificates {

  private static final String PASS = "test-pass";

  private final Path dir;
  private final String caName;

  /** A certificate and its key, PEM files. */
  public record Pair(Path certificate, Path key) {}

  private TestCertificates(Path dir, String caName) {
    this.dir = dir;
    this.caName = caName;
  }

  /** A new CA named {@code name}, with its files in {@code dir}. */
  public static TestCertificates authority(Path dir, String name) throws IOException {
    Files.createDirectories(dir);
    TestCertificates ca = new TestCertificates(dir, name);
    keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + name,
        "-ext", "bc:c", "-validity", "2", "-keystore", ca.store(name).toString(), "-storetype", "PKCS12",
        "-storepass", PASS, "-keypass", PASS);
    keytool("-exportcert", "-alias", "ca", "-rfc", "-keystore", ca.store(name).toString(), "-storepass", PASS,
        "-file", ca.caCertificate().toString());
    return ca;
  }

  /** The CA's certificate (PEM). */
  public Path caCertificate() {
    return dir.resolve(caName + "-ca.pem");
  }

  private Path store(String name) {
    return dir.resolve(name + ".p12");
  }

  /** A certificate for {@code 127.0.0.1} and {@code localhost}, for servers and clients alike. */
  public Pair issue(String name) throws IOException {
    Path store = store(caName + "-" + name);
    Path csr = dir.resolve(caName + "-" + name + ".csr");
    Pair p = new Pair(dir.resolve(caName + "-" + name + ".pem"), dir.resolve(caName + "-" + name + ".key"));
    keytool("-genkeypair", "-alias", "leaf", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + name,
        "-validity", "2", "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", PASS, "-keypass", PASS);
    keytool("-certreq", "-alias", "leaf", "-keystore", store.toString(), "-storepass", PASS, "-file", csr.toString());
    keytool("-gencert", "-alias", "ca", "-keystore", store(caName).toString(), "-storepass", PASS, "-infile", csr.toString(),
        "-outfile", p.certificate().toString(), "-rfc", "-validity", "2",
        "-ext", "san=ip:127.0.0.1,dns:localhost", "-ext", "eku=serverAuth,clientAuth");
    try (InputStream in = Files.newInputStream(store)) {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(in, PASS.toCharArray());
      PrivateKey key = (PrivateKey) ks.getKey("leaf", PASS.toCharArray());
      String pem = "-----BEGIN PRIVATE KEY-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
          + "\n-----END PRIVATE KEY-----\n";
      Files.writeString(p.key(), pem, StandardCharsets.US_ASCII);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot read the key keytool made in " + store, e);
    }
    return p;
  }

  /** An SSL context trusting only the CA certificates in {@code pem}. */
  public static SSLContext trusting(Path pem) throws IOException {
    try (InputStream in = Files.newInputStream(pem)) {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot trust " + pem, e);
    }
  }

  private static void keytool(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("keytool " + String.join(" ", args) + " failed:\n" + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
