package io.vineyard.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ClientCalls;
import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.internal.GrpcErrors;
import io.vineyard.internal.HostPort;
import io.vineyard.internal.Protos;
import io.vineyard.internal.RpcAuth;
import io.vineyard.proto.ipc.GetMetaRequest;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateRequest;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.proto.rpc.FetchBlobRequest;
import io.vineyard.proto.rpc.VineyardGrpc;
import java.lang.foreign.MemorySegment;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * A client of a (possibly remote) {@code vineyardd}'s gRPC port: cluster metadata, and the bytes of
 * the blobs that daemon holds, streamed in chunks. Nothing is shared zero-copy this way; to read an
 * object zero-copy, migrate it to the local daemon ({@link IpcClient#migrate}). Thread-safe.
 */
public final class RpcClient implements MetadataClient {

  /** The port {@code vineyardd} serves gRPC on unless told otherwise. */
  public static final int DEFAULT_PORT = 9600;

  /** How long a metadata call may take by default. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Bytes per streamed chunk asked of the daemon. 1 MiB measured faster than 4 MiB here
   * (benchmarks/cluster.sh): less to buffer per message on both sides.
   */
  static final int CHUNK_SIZE = 1 << 20;

  /** The largest reply accepted, as the daemon's default IPC frame limit. */
  static final int MAX_MESSAGE = 64 << 20;

  /**
   * GetMeta with a parser that reads trees as deep as a daemon stores ({@link Protos#MAX_NESTING}:
   * protobuf's default limit of 100 nested messages stops at about 49 levels).
   */
  private static final io.grpc.MethodDescriptor<GetMetaRequest, io.vineyard.proto.ipc.GetMetaResponse> GET_META =
      VineyardGrpc.getGetMetaMethod().toBuilder(
              io.grpc.protobuf.ProtoUtils.marshaller(GetMetaRequest.getDefaultInstance()),
              io.grpc.protobuf.ProtoUtils.marshallerWithRecursionLimit(
                  io.vineyard.proto.ipc.GetMetaResponse.getDefaultInstance(), Protos.MAX_NESTING))
          .build();

  private final String endpoint;
  private final ManagedChannel channel;
  private final Channel calls;
  private final VineyardGrpc.VineyardBlockingStub stub;
  private final Duration timeout;
  private final boolean tls;
  /** Whether a missing token may be read from the daemon's local token file (loopback only). */
  private final boolean localToken;
  /** The token given to the builder, asked for at each call; null when none was given. */
  private final Supplier<String> given;
  /** The token taken from the daemon's local token file. */
  private volatile String token;

  private RpcClient(Builder b, HostPort hp, ManagedChannel channel) {
    this.endpoint = hp.toString();
    this.channel = channel;
    this.calls = ClientInterceptors.intercept(channel, new BearerToken());
    this.stub = VineyardGrpc.newBlockingStub(calls);
    this.timeout = b.timeout;
    this.tls = b.tls;
    this.given = b.token;
    this.localToken = b.localToken && b.token == null && isLoopback(hp.host());
  }

  /**
   * Connects to {@code host:port} (or {@code host}, on {@value #DEFAULT_PORT}) in plaintext, without
   * a token of its own: a daemon on this host lets in whoever can read its local token file (see
   * {@link Builder#localToken}).
   */
  public static RpcClient connect(String endpoint) {
    return builder(endpoint).build();
  }

  /**
   * As {@link #connect(String)}, with a timeout per metadata call.
   *
   * @param timeout how long one metadata call may take
   */
  public static RpcClient connect(String endpoint, Duration timeout) {
    return builder(endpoint).timeout(timeout).build();
  }

  /** A builder for a client of {@code host:port} (or {@code host}, on {@value #DEFAULT_PORT}). */
  public static Builder builder(String endpoint) {
    return new Builder(endpoint);
  }

  /**
   * How to reach a daemon: timeout, TLS (trusted CAs, a client certificate for mutual TLS) and the
   * bearer token. The connection is made lazily: an unreachable daemon shows as {@link
   * ErrorCode#UNAVAILABLE} on the first call, a refused token or certificate as {@link
   * ErrorCode#UNAUTHENTICATED}.
   */
  public static final class Builder {
    private final String endpoint;
    private Duration timeout = DEFAULT_TIMEOUT;
    private boolean tls;
    private Path trust;
    private Path certificate;
    private Path key;
    private Supplier<String> token;
    private boolean localToken = true;

    private Builder(String endpoint) {
      this.endpoint = endpoint;
    }

    /** How long one metadata call may take. */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** Speaks TLS, trusting the JDK's certificate authorities unless {@link #trust} names others. */
    public Builder useTls() {
      this.tls = true;
      return this;
    }

    /** Speaks TLS, trusting only the CA certificates in this PEM file. */
    public Builder trust(Path caCertificates) {
      this.tls = true;
      this.trust = caCertificates;
      return this;
    }

    /** Speaks TLS and presents this certificate chain and PKCS#8 key (PEM), for mutual TLS. */
    public Builder clientCertificate(Path certificateChain, Path privateKey) {
      this.tls = true;
      this.certificate = certificateChain;
      this.key = privateKey;
      return this;
    }

    /** The bearer token to send. */
    public Builder token(String token) {
      if (!RpcAuth.isValidToken(token)) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a token is 16 to 512 visible ASCII characters without spaces");
      }
      this.token = () -> token;
      return this;
    }

    /**
     * Sends the token {@code source} gives at each call (for tokens that are rotated while the
     * client lives).
     */
    public Builder token(Supplier<String> source) {
      this.token = source;
      return this;
    }

    /**
     * Sends the first token in this file (one token a line; {@code #} comments).
     *
     * @throws VineyardException as {@link RpcAuth#readTokens}
     */
    public Builder tokenFile(Path file) {
      return token(RpcAuth.readTokens(file).getFirst());
    }

    /**
     * Whether, with no token given, the client may use the daemon's local token file when the
     * daemon refuses it: only for a daemon on a loopback address, whose refusal names the file (next
     * to its socket), and only if this user can read it. On by default.
     */
    public Builder localToken(boolean allowed) {
      this.localToken = allowed;
      return this;
    }

    /**
     * Makes the client.
     *
     * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} when a certificate or key file
     *     cannot be used
     */
    public RpcClient build() {
      HostPort hp = HostPort.parse(endpoint, DEFAULT_PORT);
      NettyChannelBuilder cb =
          NettyChannelBuilder.forAddress(hp.host(), hp.port())
              // Metadata replies (a global listing) can be large; blob chunks are CHUNK_SIZE.
              .maxInboundMessageSize(MAX_MESSAGE)
              .keepAliveTime(30, TimeUnit.SECONDS);
      if (tls) {
        cb.useTransportSecurity().sslContext(sslContext());
      } else {
        cb.usePlaintext();
      }
      return new RpcClient(this, hp, cb.build());
    }

    private SslContext sslContext() {
      try {
        SslContextBuilder b = GrpcSslContexts.forClient();
        if (trust != null) {
          b.trustManager(trust.toFile());
        }
        if (certificate != null) {
          b.keyManager(certificate.toFile(), key.toFile());
        }
        return b.build();
      } catch (SSLException | IllegalArgumentException e) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "cannot use the TLS files given (" + (trust != null ? "CA " + trust : "")
                + (certificate != null ? " certificate " + certificate + ", key " + key : "") + "): " + GrpcErrors.rootCause(e), e);
      }
    }
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * Whether a connection was made and then dropped or reset before the first HTTP/2 frame: what a
   * TLS port does to a plaintext client (closing with the JDK's engine, resetting with OpenSSL's).
   */
  private static boolean hungUp(VineyardException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("Network closed for unknown reason") || m.contains("Connection reset by peer")
        || m.contains("First received frame was not SETTINGS");
  }

  /**
   * Whether the daemon answers a TLS handshake: what a plaintext client that was hung up on before
   * any HTTP/2 frame asks, to tell a TLS port from a daemon that went away. The handshake is
   * abandoned as soon as the server shows its certificate; nothing else is sent.
   */
  private boolean speaksTls() {
    HostPort hp = HostPort.parse(endpoint, DEFAULT_PORT);
    AtomicBoolean certificateShown = new AtomicBoolean();
    X509TrustManager probe = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("not a server");
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        certificateShown.set(true);
        throw new CertificateException("probe only");
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {probe}, null);
      try (Socket raw = new Socket()) {
        raw.connect(new InetSocketAddress(hp.host(), hp.port()), 2000);
        raw.setSoTimeout(2000);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, hp.host(), hp.port(), false)) {
          s.startHandshake();
        }
      }
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      // the abandoned handshake ends here
    }
    return certificateShown.get();
  }

  /** Adds the current token to every call. */
  private final class BearerToken implements ClientInterceptor {
    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          String t = given != null ? given.get() : token;
          if (t != null) {
            headers.put(RpcAuth.AUTHORIZATION, RpcAuth.BEARER + t);
          }
          super.start(listener, headers);
        }
      };
    }
  }

  /**
   * After a refusal that names the daemon's local token file: takes the token from it, if this
   * client may and the file holds a token other than the one refused.
   *
   * @return whether to try again
   * @throws VineyardException {@link ErrorCode#UNAUTHENTICATED} when the file cannot be read
   */
  private boolean tryLocalToken(StatusRuntimeException e) {
    if (!localToken || e.getStatus().getCode() != Status.Code.UNAUTHENTICATED || e.getTrailers() == null) {
      return false;
    }
    String file = e.getTrailers().get(RpcAuth.TOKEN_FILE);
    if (file == null) {
      return false;
    }
    String t;
    try {
      t = RpcAuth.readTokens(Path.of(file)).getFirst();
    } catch (VineyardException unreadable) {
      throw new VineyardException(
          ErrorCode.UNAUTHENTICATED,
          "vineyardd at " + endpoint + " wants a token, and its local token file is of no use here: " + unreadable.reason()
              + " (give one with --token-file, or RpcClient.builder().tokenFile)",
          e);
    }
    synchronized (this) {
      if (t.equals(token)) {
        return false;
      }
      token = t;
    }
    return true;
  }

  /** The endpoint this client talks to, as {@code host:port}. */
  public String endpoint() {
    return endpoint;
  }

  private VineyardGrpc.VineyardBlockingStub stub() {
    return stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private <T> T call(Supplier<T> c) {
    try {
      return c.get();
    } catch (StatusRuntimeException e) {
      if (!tryLocalToken(e)) {
        throw annotate(GrpcErrors.fromStatus(e));
      }
    }
    try {
      return c.get();
    } catch (StatusRuntimeException e) {
      throw annotate(GrpcErrors.fromStatus(e));
    }
  }

  /**
   * A transport failure (no daemon there, connection lost) is reported as such, with the endpoint
   * and the root cause in a few words; errors the daemon itself sent pass through unchanged.
   */
  private VineyardException annotate(VineyardException e) {
    if (e.code() != ErrorCode.UNAVAILABLE && e.code() != ErrorCode.INTERNAL || GrpcErrors.fromDaemon(e.getCause())) {
      return e;
    }
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof SSLException) {
        return new VineyardException(
            ErrorCode.UNAUTHENTICATED,
            "TLS with vineyardd at " + endpoint + " failed: " + GrpcErrors.rootCause(t)
                + " (is the daemon's certificate signed by a CA this client trusts, for this host name or address;"
                + " does it speak TLS; does it want a client certificate?)",
            e.getCause());
      }
    }
    if (!tls && hungUp(e) && speaksTls()) {
      return new VineyardException(
          ErrorCode.UNAUTHENTICATED,
          "vineyardd at " + endpoint + " speaks TLS and this client does not (give the CA: --tls-ca, RpcClient.builder().trust)",
          e.getCause());
    }
    if (e.code() != ErrorCode.UNAVAILABLE) {
      return e;
    }
    return new VineyardException(
        ErrorCode.UNAVAILABLE, "cannot reach vineyardd's gRPC port at " + endpoint + ": " + GrpcErrors.rootCause(e.getCause()), e.getCause());
  }

  @Override
  public ObjectMeta getMeta(ObjectId id) {
    GetMetaRequest req = GetMetaRequest.newBuilder().setId(id.value()).build();
    return Protos.fromProto(call(() -> ClientCalls.blockingUnaryCall(
        calls, GET_META, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS), req)).getMeta());
  }

  @Override
  public ObjectId getName(String name) {
    return new ObjectId(call(() -> stub().getName(GetNameRequest.newBuilder().setName(name).build())).getId());
  }

  @Override
  public Listing listObjects(String typenamePattern, int limit, boolean global) {
    ListRequest.Builder req = ListRequest.newBuilder().setLimit(limit).setGlobal(global);
    if (typenamePattern != null) {
      req.setTypenamePattern(typenamePattern);
    }
    return Protos.fromProto(call(() -> stub().list(req.build())));
  }

  @Override
  public List<InstanceInfo> instances() {
    return call(() -> stub().instances(InstancesRequest.getDefaultInstance())).getInstancesList().stream()
        .map(Protos::fromProto)
        .toList();
  }

  @Override
  public List<Placement> locate(ObjectId id) {
    return call(() -> stub().locate(LocateRequest.newBuilder().setId(id.value()).build())).getPlacementsList().stream()
        .map(Protos::fromProto)
        .toList();
  }

  @Override
  public StoreStats stats() {
    return Protos.fromProto(call(() -> stub().stats(StatsRequest.getDefaultInstance())));
  }

  /**
   * Streams a blob held by that daemon into {@code target}, which must be exactly the blob's size.
   *
   * @return the number of bytes written
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when the daemon does not hold the blob,
   *     {@link ErrorCode#INVALID_ARGUMENT} when {@code target} is not the blob's size
   */
  public long fetchBlob(ObjectId id, MemorySegment target) {
    try {
      return fetchOnce(id, target);
    } catch (LocalTokenWanted e) {
      return fetchOnce(id, target);
    }
  }

  /** A fetch refused before its first chunk, while a local token could be had: try again. */
  private static final class LocalTokenWanted extends RuntimeException {
    LocalTokenWanted() {
      super(null, null, false, false);
    }
  }

  private long fetchOnce(ObjectId id, MemorySegment target) {
    FetchBlobRequest req = FetchBlobRequest.newBuilder().setId(id.value()).setChunkSize(CHUNK_SIZE).build();
    // No deadline over the whole stream (its length depends on the size); keepalives notice a dead
    // peer. The call runs in a context of its own so that giving up mid-stream cancels it, and the
    // daemon unpins the blob at once.
    Context.CancellableContext ctx = Context.current().withCancellation();
    Context previous = ctx.attach();
    long received = 0;
    Iterator<ChunkStream.Chunk> chunks = null;
    boolean complete = false;
    try {
      chunks = ClientCalls.blockingServerStreamingCall(calls, ChunkStream.FETCH_BLOB, CallOptions.DEFAULT, req);
      boolean first = true;
      while (chunks.hasNext()) {
        try (ChunkStream.Chunk c = chunks.next()) {
          if (first) {
            first = false;
            if (c.totalSize != target.byteSize()) {
              throw new VineyardException(
                  ErrorCode.INVALID_ARGUMENT,
                  "blob " + id + " has " + c.totalSize + " bytes; the target holds " + target.byteSize());
            }
          }
          if (c.offset != received || c.length > target.byteSize() - received) {
            throw new VineyardException(
                ErrorCode.PROTOCOL_ERROR, "blob " + id + ": chunk at " + c.offset + " (" + c.length + " bytes) after " + received);
          }
          c.copyTo(target, received);
          received += c.length;
        }
      }
      complete = true;
    } catch (StatusRuntimeException e) {
      if (received == 0 && tryLocalToken(e)) {
        throw new LocalTokenWanted();
      }
      throw annotate(GrpcErrors.fromStatus(e));
    } finally {
      ctx.detach(previous);
      ctx.cancel(null);
      if (!complete && chunks != null) {
        releaseRest(chunks);
      }
    }
    if (received != target.byteSize()) {
      throw new VineyardException(
          ErrorCode.IO_ERROR, "blob " + id + ": stream ended after " + received + " of " + target.byteSize() + " bytes");
    }
    return received;
  }

  /** Closes chunks already received but not read, so their transport buffers go back to the pool. */
  private static void releaseRest(Iterator<ChunkStream.Chunk> chunks) {
    try {
      while (chunks.hasNext()) {
        chunks.next().close();
      }
    } catch (RuntimeException cancelled) {
      // the stream ends with the cancellation
    }
  }

  /** A blob's bytes as an array (blobs under 2 GiB). */
  public byte[] fetchBlob(ObjectId id) {
    long size = getMeta(id).nbytes();
    if (size > Integer.MAX_VALUE - 8) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob " + id + " is too large for an array: " + size + " bytes");
    }
    byte[] out = new byte[(int) size];
    fetchBlob(id, MemorySegment.ofArray(out));
    return out;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "RpcClient[" + endpoint + (tls ? ", TLS" : "") + "]";
  }
}
