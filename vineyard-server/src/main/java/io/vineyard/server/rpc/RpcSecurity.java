package io.vineyard.server.rpc;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusException;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.client.RpcClient;
import io.vineyard.internal.GrpcErrors;
import io.vineyard.internal.RpcAuth;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may use the daemon's gRPC port, and how the daemon talks to its peers' ports.
 *
 * <p>Every call carries a bearer token, checked against: the daemon's local token (made at each
 * start and written next to the socket, {@code <socket>.token}, readable by those who may connect to
 * the socket), the tokens of {@code --rpc-token-file}s, and those of the cluster token file. Token
 * files are read again when they change. Tokens are compared as SHA-256 digests with {@link
 * MessageDigest#isEqual}, so neither their content nor their length shows in the time a refusal
 * takes.
 *
 * <p>With a certificate and key the port speaks only TLS; with a client CA as well, only to clients
 * that present a certificate it signed (mutual TLS). Peer clients (for migration) use TLS when the
 * port does, trusting the peer CA (or the JDK's), presenting this daemon's own certificate, and
 * sending the cluster token; without a cluster token a peer on this host is let in with its local
 * token file, if this daemon's user can read it.
 */
public final class RpcSecurity implements ServerInterceptor, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RpcSecurity.class);

  /** TLS of the port: certificate chain and PKCS#8 key (PEM), and an optional CA for client certificates. */
  public record Tls(Path certificate, Path key, Path clientCa, Path peerCa) {}

  private final Path localTokenFile;
  private final byte[] localDigest;
  private final List<TokenFile> tokenFiles;
  private final TokenFile clusterTokens;
  private final Tls tls;

  private RpcSecurity(Path localTokenFile, String localToken, List<TokenFile> tokenFiles, TokenFile clusterTokens, Tls tls) {
    this.localTokenFile = localTokenFile;
    this.localDigest = digest(localToken);
    this.tokenFiles = tokenFiles;
    this.clusterTokens = clusterTokens;
    this.tls = tls;
  }

  /**
   * Reads the token files, checks the TLS files and writes a new local token next to the socket.
   *
   * @param socket the daemon's socket; its token goes to {@code <socket>.token}
   * @param socketMode the socket's permissions: who may connect may read the token
   * @param ownerOnly the socket admits only listed users (--allow-uids/--allow-gids), which a file
   *     mode cannot say: the token is readable by the daemon's user only
   * @param tokenFiles further files of accepted tokens
   * @param clusterTokenFile the tokens daemons of this cluster use with each other (the first is
   *     sent), or null
   * @param tls the port's TLS, or null for plaintext
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} for a bad token or TLS file, {@link
   *     ErrorCode#IO_ERROR} when the token cannot be written
   */
  public static RpcSecurity create(
      Path socket, String socketMode, boolean ownerOnly, List<Path> tokenFiles, Path clusterTokenFile, Tls tls) {
    List<TokenFile> files = new ArrayList<>();
    for (Path p : tokenFiles) {
      files.add(TokenFile.open(p));
    }
    TokenFile cluster = clusterTokenFile == null ? null : TokenFile.open(clusterTokenFile);
    if (tls != null) {
      serverContext(tls); // a bad file is reported now, before anything is bound or written
    }
    Path file = socket.resolveSibling(socket.getFileName() + ".token");
    String token = newToken();
    writeToken(file, token, socketMode, ownerOnly);
    return new RpcSecurity(file, token, List.copyOf(files), cluster, tls);
  }

  /** A new random token: 32 bytes of {@link SecureRandom}, base64url. */
  public static String newToken() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static void writeToken(Path file, String token, String socketMode, boolean ownerOnly) {
    Set<PosixFilePermission> sock = PosixFilePermissions.fromString(socketMode);
    Set<PosixFilePermission> mode = EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    if (sock.contains(PosixFilePermission.GROUP_WRITE) && !ownerOnly) {
      mode.add(PosixFilePermission.GROUP_READ); // connecting to a socket takes write permission
    }
    if (sock.contains(PosixFilePermission.OTHERS_WRITE) && !ownerOnly) {
      mode.add(PosixFilePermission.OTHERS_READ);
    }
    try {
      Files.deleteIfExists(file); // left by a daemon that died: no live daemon is on this socket
      // Created private, filled, then opened to the socket's group: never readable with other content.
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(file, token + "\n", StandardCharsets.US_ASCII);
      Files.setPosixFilePermissions(file, mode);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot write the gRPC token file " + file + ": " + e.getMessage(), e);
    }
    if (ownerOnly) {
      LOG.info("gRPC token for local clients in {} ({}: the socket admits listed users only, which a file mode cannot"
          + " say; give them tokens with --rpc-token-file)", file, PosixFilePermissions.toString(mode));
    } else {
      LOG.info("gRPC token for local clients in {} ({})", file, PosixFilePermissions.toString(mode));
    }
  }

  /** The file local clients read their token from. */
  public Path localTokenFile() {
    return localTokenFile;
  }

  public boolean tls() {
    return tls != null;
  }

  /** The port's TLS context, or null for plaintext. */
  SslContext serverContext() {
    return tls == null ? null : serverContext(tls);
  }

  private static SslContext serverContext(Tls tls) {
    try {
      SslContextBuilder b = GrpcSslContexts.forServer(tls.certificate().toFile(), tls.key().toFile());
      if (tls.clientCa() != null) {
        b.trustManager(tls.clientCa().toFile()).clientAuth(ClientAuth.REQUIRE);
      }
      return b.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "cannot use --tls-cert " + tls.certificate() + " / --tls-key " + tls.key()
              + (tls.clientCa() != null ? " / --tls-client-ca " + tls.clientCa() : "") + ": " + GrpcErrors.rootCause(e),
          e);
    }
  }

  /** Makes clients of peers' gRPC ports: this port's TLS, and the cluster token if there is one. */
  public Function<String, RpcClient> peerClients() {
    return endpoint -> {
      RpcClient.Builder b = RpcClient.builder(endpoint);
      if (tls != null) {
        if (tls.peerCa() != null) {
          b.trust(tls.peerCa());
        } else {
          b.useTls();
        }
        b.clientCertificate(tls.certificate(), tls.key());
      }
      if (clusterTokens != null) {
        b.token(() -> clusterTokens.tokens().getFirst()).localToken(false);
      }
      return b.build();
    };
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String h = headers.get(RpcAuth.AUTHORIZATION);
    String token = h != null && h.regionMatches(true, 0, RpcAuth.BEARER, 0, RpcAuth.BEARER.length())
        ? h.substring(RpcAuth.BEARER.length()).strip()
        : null;
    if (token != null && accepts(token)) {
      return next.startCall(call, headers);
    }
    SocketAddress from = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    boolean local = from instanceof InetSocketAddress a && a.getAddress() != null && a.getAddress().isLoopbackAddress();
    String why = token == null ? "no bearer token" : "a bearer token this daemon does not accept";
    String method = call.getMethodDescriptor().getFullMethodName();
    if (token == null && local) {
      LOG.debug("refused {} from {}: {}", method, from, why); // a local client about to read its token
    } else {
      LOG.warn("refused {} from {}: {}", method, from, why);
    }
    StatusException s = GrpcErrors.toStatus(new VineyardException(
        ErrorCode.UNAUTHENTICATED,
        "vineyardd refused the call: " + why + (local ? " (local clients find one in " + localTokenFile + ")" : "")));
    Metadata trailers = s.getTrailers();
    if (local) {
      trailers.put(RpcAuth.TOKEN_FILE, localTokenFile.toString());
    }
    call.close(s.getStatus(), trailers);
    return new ServerCall.Listener<>() {};
  }

  private boolean accepts(String token) {
    byte[] d = digest(token);
    boolean ok = MessageDigest.isEqual(d, localDigest);
    for (TokenFile f : tokenFiles) {
      ok |= matches(d, f);
    }
    if (clusterTokens != null) {
      ok |= matches(d, clusterTokens);
    }
    return ok;
  }

  private static boolean matches(byte[] digest, TokenFile file) {
    boolean ok = false;
    for (String t : file.tokens()) {
      ok |= MessageDigest.isEqual(digest, digest(t));
    }
    return ok;
  }

  private static byte[] digest(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.US_ASCII));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JDK has SHA-256", e);
    }
  }

  /** Removes the local token file. */
  @Override
  public void close() {
    try {
      Files.deleteIfExists(localTokenFile);
    } catch (IOException e) {
      LOG.warn("cannot remove {}: {}", localTokenFile, e.toString());
    }
  }
}
