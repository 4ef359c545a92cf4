package io.vineyard.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.auth.Permission;
import io.grpc.netty.GrpcSslContexts;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.EtcdProcess;
import io.vineyard.testing.TestCertificates;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster with everything secured: etcd over TLS with client certificates and auth enabled (a
 * user allowed only the cluster's prefix), two daemons with mutual TLS on their gRPC ports and a
 * shared cluster token. Migration works between them; a daemon with another cluster token cannot
 * migrate, and a wrong etcd password keeps a daemon from starting.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SecureClusterIT {

  static final String PREFIX = "/secure-it";

  @TempDir static Path work;
  static TestCertificates ca;
  static EtcdProcess etcd;
  static TestCertificates.Pair etcdClient;
  static Path password;
  static DaemonProcess a;
  static DaemonProcess b;

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  @BeforeAll
  static void start() throws Exception {
    ca = TestCertificates.authority(work.resolve("pki"), "cluster");
    TestCertificates.Pair etcdServer = ca.issue("etcd");
    etcdClient = ca.issue("etcd-client");
    etcd = EtcdProcess.start(work, new EtcdProcess.Tls(etcdServer.certificate(), etcdServer.key(), ca.caCertificate()));
    try (Client root = Client.builder().endpoints(etcd.endpoint())
        .sslContext(GrpcSslContexts.forClient().trustManager(ca.caCertificate().toFile())
            .keyManager(etcdClient.certificate().toFile(), etcdClient.key().toFile()).build())
        .build()) {
      var auth = root.getAuthClient();
      auth.roleAdd(bytes("root")).get(30, TimeUnit.SECONDS);
      auth.userAdd(bytes("root"), bytes("root-password")).get(30, TimeUnit.SECONDS);
      auth.userGrantRole(bytes("root"), bytes("root")).get(30, TimeUnit.SECONDS);
      auth.roleAdd(bytes("vineyard")).get(30, TimeUnit.SECONDS);
      // The prefix and everything under it: [PREFIX, PREFIX with its last byte + 1).
      auth.roleGrantPermission(bytes("vineyard"), bytes(PREFIX), bytes("/secure-iu"), Permission.Type.READWRITE)
          .get(30, TimeUnit.SECONDS);
      auth.userAdd(bytes("vineyard"), bytes("vineyard-password")).get(30, TimeUnit.SECONDS);
      auth.userGrantRole(bytes("vineyard"), bytes("vineyard")).get(30, TimeUnit.SECONDS);
      auth.authEnable().get(30, TimeUnit.SECONDS);
    }
    password = work.resolve("etcd-password");
    Files.writeString(password, "vineyard-password\n");
    Path clusterToken = work.resolve("cluster.token");
    Files.writeString(clusterToken, "cluster-token-0123456789abcdef\n");
    a = daemon("a", clusterToken, password);
    b = daemon("b", clusterToken, password);
  }

  static DaemonProcess daemon(String name, Path clusterToken, Path etcdPassword) throws Exception {
    TestCertificates.Pair cert = ca.issue(name);
    List<String> flags = new ArrayList<>(List.of(
        "--meta", "etcd", "--etcd-endpoints", etcd.endpoint(), "--etcd-prefix", PREFIX, "--etcd-lease-ttl", "3",
        "--etcd-tls-ca", ca.caCertificate().toString(),
        "--etcd-tls-cert", etcdClient.certificate().toString(), "--etcd-tls-key", etcdClient.key().toString(),
        "--etcd-user", "vineyard", "--etcd-password-file", etcdPassword.toString(),
        "--tls-cert", cert.certificate().toString(), "--tls-key", cert.key().toString(),
        "--tls-client-ca", ca.caCertificate().toString(), "--tls-peer-ca", ca.caCertificate().toString(),
        "--cluster-token-file", clusterToken.toString()));
    return DaemonProcess.start(Files.createDirectory(work.resolve(name)), "256Mi", flags.toArray(String[]::new));
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {a, b, etcd}) {
      if (c != null) {
        c.close();
      }
    }
  }

  static byte[] random(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  @Test
  void migrationBetweenTwoTlsDaemonsWithTheClusterToken() {
    byte[] data = random(20 << 20, 1);
    try (IpcClient ca = a.connect(); IpcClient cb = b.connect()) {
      assertEquals(2, cb.instances().size(), "both registered in the secured etcd");
      ObjectId blob = ca.putBlob(data);
      ca.persist(blob);
      ObjectId local = cb.migrate(blob);
      assertEquals(cb.instanceId(), local.instanceId());
      try (Blob r = cb.getBlob(local)) {
        assertArrayEquals(data, r.segment().toArray(ValueLayout.JAVA_BYTE));
      }
    }
  }

  @Test
  void aDaemonWithAnotherClusterTokenCannotMigrate() throws Exception {
    Path wrong = work.resolve("wrong.token");
    Files.writeString(wrong, "another-cluster-token-0123456789\n");
    try (DaemonProcess c = daemon("c", wrong, password); IpcClient ca = a.connect(); IpcClient cc = c.connect()) {
      ObjectId blob = ca.putBlob(random(1 << 20, 2));
      ca.persist(blob);
      VineyardException e = assertThrows(VineyardException.class, () -> cc.migrate(blob));
      assertEquals(ErrorCode.UNAUTHENTICATED, e.code(), e.toString());
      assertTrue(e.reason().contains("does not accept"), e.reason());
    }
  }

  @Test
  void aWrongEtcdPasswordKeepsTheDaemonFromStarting() throws Exception {
    Path wrong = work.resolve("wrong-password");
    Files.writeString(wrong, "not-the-password\n");
    AssertionError e = assertThrows(AssertionError.class, () -> daemon("d", work.resolve("cluster.token"), wrong).close());
    assertTrue(e.getMessage().contains("UNAUTHENTICATED: etcd refused") && e.getMessage().contains("--etcd-password-file"),
        e.getMessage());
  }
}
