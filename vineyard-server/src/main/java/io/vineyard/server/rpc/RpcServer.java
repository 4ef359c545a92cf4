package io.vineyard.server.rpc;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.OpenSsl;
import io.grpc.util.MutableHandlerRegistry;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.internal.GrpcErrors;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.GetMetaRequest;
import io.vineyard.proto.ipc.GetMetaResponse;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.GetNameResponse;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.InstancesResponse;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.ListResponse;
import io.vineyard.proto.ipc.LocateRequest;
import io.vineyard.proto.ipc.LocateResponse;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.proto.ipc.StatsResponse;
import io.vineyard.proto.rpc.BlobChunk;
import io.vineyard.proto.rpc.FetchBlobRequest;
import io.vineyard.proto.rpc.VineyardGrpc;
import io.vineyard.server.ipc.RefusalLog;
import io.vineyard.server.service.DaemonService;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's gRPC port: cluster metadata for remote clients, and blob bytes for peers that migrate
 * objects. It only translates: every call is decoded, handed to the {@link DaemonService} and its
 * answer encoded. Blob streams follow the receiver's pace (a chunk is sent only while the transport
 * is ready), and the blob stays pinned until its stream ends, so it is neither freed nor spilled
 * meanwhile.
 *
 * <p>The port is bound first ({@link #bind}) so that the daemon can register with its real
 * endpoint; the service is added once the daemon is built ({@link #serve}). Nobody can know the
 * endpoint before the registration, so no call arrives in between (one that did would be answered
 * UNIMPLEMENTED).
 */
public final class RpcServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RpcServer.class);

  static final int DEFAULT_CHUNK = 1 << 20;
  static final int MIN_CHUNK = 64 << 10;
  static final int MAX_CHUNK = 8 << 20;
  /** The largest answer a {@code RpcClient} accepts. */
  static final int MAX_REPLY = 64 << 20;

  /** A blob stream that sends nothing for this long (the receiver stopped reading) is ended by default. */
  public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(30);

  private final Server server;
  private final MutableHandlerRegistry registry;
  private final RpcSecurity security;
  /** Blob streams under way, watched for stalls. */
  private final Set<BlobStream> streams = ConcurrentHashMap.newKeySet();
  private final RefusalLog stalls = new RefusalLog(LOG);
  private ScheduledExecutorService watchdog;

  private RpcServer(Server server, MutableHandlerRegistry registry, RpcSecurity security) {
    this.server = server;
    this.registry = registry;
    this.security = security;
  }

  /**
   * Binds {@code host:port} (port 0: any free port), serving nothing yet.
   *
   * Every call must pass {@code security} (a bearer token); the port speaks TLS if it says so. The
   * server owns {@code security} and closes it.
   *
   * @throws VineyardException {@link ErrorCode#IO_ERROR} when the address cannot be bound
   */
  public static RpcServer bind(String host, int port, RpcSecurity security) {
    MutableHandlerRegistry registry = new MutableHandlerRegistry();
    NettyServerBuilder b =
        NettyServerBuilder.forAddress(new InetSocketAddress(host, port)).fallbackHandlerRegistry(registry).intercept(security);
    if (security.tls()) {
      b.sslContext(security.serverContext());
    }
    Server s = b.build();
    try {
      s.start();
    } catch (IOException e) {
      s.shutdownNow();
      security.close();
      String why = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
      throw new VineyardException(
          ErrorCode.IO_ERROR,
          "cannot serve gRPC on " + host + ":" + port + ": " + why
              + " (another vineyardd on this host? give each its own --rpc-port, or 0 for any free port)",
          e);
    }
    LOG.info("gRPC listening on {}:{}{}", host, s.getPort(), security.tls() ? " (TLS, " + (OpenSsl.isAvailable() ? "OpenSSL" : "the JDK's") + " engine)" : "");
    return new RpcServer(s, registry, security);
  }

  /** Starts answering calls with {@code service}. */
  public void serve(DaemonService service) {
    serve(service, DEFAULT_STALL_TIMEOUT);
  }

  /**
   * Starts answering calls with {@code service}; a blob stream whose receiver takes nothing for
   * {@code stallTimeout} is ended with DEADLINE_EXCEEDED, which unpins its blob (a deleted one's
   * memory is freed then).
   */
  public synchronized void serve(DaemonService service, Duration stallTimeout) {
    long limit = stallTimeout.toNanos();
    long period = Math.clamp(limit / 4, 10_000_000L, 1_000_000_000L);
    watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "vineyardd-rpc-stalls");
      t.setDaemon(true);
      return t;
    });
    watchdog.scheduleWithFixedDelay(() -> {
      long now = System.nanoTime();
      for (BlobStream st : streams) {
        if (st.stalledFor(now) >= limit) {
          st.endStalled(stallTimeout);
        }
      }
    }, period, period, TimeUnit.NANOSECONDS);
    registry.addService(ServerInterceptors.intercept(tolerant(new Service(service).bindService()), new MalformedRequests()));
  }

  /**
   * The service with request parsers that do not throw: grpc-java turns a request that does not
   * parse into UNKNOWN ("Application error processing RPC") and logs a stack trace at SEVERE for
   * each, so one client sending junk would flood the log. A request that does not parse becomes
   * {@code null}, which {@link MalformedRequests} answers with INVALID_ARGUMENT.
   */
  private static ServerServiceDefinition tolerant(ServerServiceDefinition def) {
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(def.getServiceDescriptor().getName());
    for (ServerMethodDefinition<?, ?> m : def.getMethods()) {
      b.addMethod(tolerant(m));
    }
    return b.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> tolerant(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor.Marshaller<Q> parser = m.getMethodDescriptor().getRequestMarshaller();
    MethodDescriptor<Q, R> md = m.getMethodDescriptor().toBuilder().setRequestMarshaller(new MethodDescriptor.Marshaller<Q>() {
      @Override
      public java.io.InputStream stream(Q value) {
        return parser.stream(value);
      }

      @Override
      public Q parse(java.io.InputStream in) {
        try {
          return parser.parse(in);
        } catch (RuntimeException malformed) {
          return null;
        }
      }
    }).build();
    return ServerMethodDefinition.create(md, m.getServerCallHandler());
  }

  /** Ends a call whose request did not parse (see {@link #tolerant}) with INVALID_ARGUMENT. */
  private static final class MalformedRequests implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
        private boolean refused;

        @Override
        public void onMessage(Q message) {
          if (refused) {
            return;
          }
          if (message == null) {
            refused = true;
            LOG.debug("refused {}: the request does not parse", call.getMethodDescriptor().getFullMethodName());
            StatusException s = GrpcErrors.toStatus(new VineyardException(ErrorCode.INVALID_ARGUMENT,
                "the request does not parse as a " + call.getMethodDescriptor().getBareMethodName() + " request"));
            call.close(s.getStatus(), s.getTrailers());
            return;
          }
          super.onMessage(message);
        }

        @Override
        public void onHalfClose() {
          if (!refused) {
            super.onHalfClose();
          }
        }
      };
    }
  }

  /** The bound port. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    synchronized (this) {
      if (watchdog != null) {
        watchdog.shutdownNow();
      }
    }
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    } finally {
      security.close();
    }
  }

  private final class Service extends VineyardGrpc.VineyardImplBase {

    private final DaemonService service;

    Service(DaemonService service) {
      this.service = service;
    }

    /** Bytes an answer may take: the daemon's limit, and no more than a {@code RpcClient} accepts. */
    private int maxReply() {
      return Math.min(service.maxReply(), MAX_REPLY);
    }

    /** Answers a unary call when {@code result} completes. */
    private <T, R extends com.google.protobuf.MessageLite> void unary(
        StreamObserver<R> obs, CompletableFuture<T> result, Function<T, R> encode) {
      result.whenComplete((v, e) -> {
        if (e != null) {
          obs.onError(GrpcErrors.toStatus(DaemonService.asVineyard(e)));
          return;
        }
        R r;
        try {
          r = encode.apply(v);
          int size = r.getSerializedSize();
          if (size > maxReply()) {
            // The client would refuse it (RESOURCE_EXHAUSTED, no word of why): say so instead.
            throw service.replyTooLarge(r.getClass().getSimpleName(), size);
          }
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError ex) {
          obs.onError(GrpcErrors.toStatus(DaemonService.asVineyard(ex)));
          return;
        }
        obs.onNext(r);
        obs.onCompleted();
      });
    }

    @Override
    public void getMeta(GetMetaRequest req, StreamObserver<GetMetaResponse> obs) {
      unary(obs, service.getMeta(req.getId()), m -> GetMetaResponse.newBuilder().setMeta(Protos.toProto(m)).build());
    }

    @Override
    public void getName(GetNameRequest req, StreamObserver<GetNameResponse> obs) {
      unary(obs, service.getName(req.getName()), id -> GetNameResponse.newBuilder().setId(id.value()).build());
    }

    @Override
    public void list(ListRequest req, StreamObserver<ListResponse> obs) {
      unary(obs, service.list(req.getTypenamePattern(), req.getLimit(), req.getGlobal()),
          l -> Protos.toProto(l, maxReply() - 1024));
    }

    @Override
    public void instances(InstancesRequest req, StreamObserver<InstancesResponse> obs) {
      unary(obs, service.instances(), list -> {
        InstancesResponse.Builder b = InstancesResponse.newBuilder();
        list.forEach(i -> b.addInstances(Protos.toProto(i)));
        return b.build();
      });
    }

    @Override
    public void locate(LocateRequest req, StreamObserver<LocateResponse> obs) {
      unary(obs, service.locate(req.getId()), list -> {
        LocateResponse.Builder b = LocateResponse.newBuilder();
        list.forEach(p -> b.addPlacements(Protos.toProto(p)));
        return b.build();
      });
    }

    @Override
    public void stats(StatsRequest req, StreamObserver<StatsResponse> obs) {
      unary(obs, CompletableFuture.completedFuture(null), v -> Protos.toProto(service.stats()));
    }

    @Override
    public void fetchBlob(FetchBlobRequest req, StreamObserver<BlobChunk> obs) {
      ServerCallStreamObserver<BlobChunk> call = (ServerCallStreamObserver<BlobChunk>) obs;
      int chunk = req.getChunkSize() == 0 ? DEFAULT_CHUNK : Math.clamp(req.getChunkSize(), MIN_CHUNK, MAX_CHUNK);
      // gRPC takes the handlers only during this call, and the blob may come later (loaded back
      // from the spill directory): they act on the stream once there is one.
      AtomicReference<BlobStream> stream = new AtomicReference<>();
      AtomicBoolean cancelled = new AtomicBoolean();
      call.setOnCancelHandler(() -> {
        cancelled.set(true);
        BlobStream st = stream.get();
        if (st != null) {
          st.finish();
        }
      });
      call.setOnReadyHandler(() -> {
        BlobStream st = stream.get();
        if (st != null) {
          st.pump();
        }
      });
      service.readBlob(req.getId(), "gRPC fetch of " + new ObjectId(req.getId())).whenComplete((read, e) -> {
        if (e != null) {
          if (!cancelled.get()) {
            obs.onError(GrpcErrors.toStatus(DaemonService.asVineyard(e)));
          }
          return;
        }
        BlobStream st = new BlobStream(call, read, chunk, new ObjectId(req.getId()));
        stream.set(st);
        if (cancelled.get()) {
          st.finish(); // the caller left while the blob was being loaded
          return;
        }
        st.pump();
      });
    }
  }

  /**
   * One blob going out in chunks while the transport is ready; unpins the blob when done, and when
   * its receiver stops taking chunks for the stall timeout.
   */
  private final class BlobStream {
    private final ServerCallStreamObserver<BlobChunk> call;
    private final DaemonService.BlobRead read;
    private final MemorySegment bytes;
    private final int chunk;
    private final ObjectId id;
    private long sent;
    private boolean started;
    private boolean finished;
    /** When a chunk last went out (or the stream began). */
    private volatile long lastProgress = System.nanoTime();

    BlobStream(ServerCallStreamObserver<BlobChunk> call, DaemonService.BlobRead read, int chunk, ObjectId id) {
      this.call = call;
      this.read = read;
      this.bytes = read.bytes();
      this.chunk = chunk;
      this.id = id;
      streams.add(this);
    }

    long stalledFor(long now) {
      return now - lastProgress;
    }

    /** Ends a stream whose receiver took nothing for {@code timeout}: DEADLINE_EXCEEDED, and the blob unpinned. */
    synchronized void endStalled(Duration timeout) {
      if (finished) {
        return;
      }
      String why = "the receiver took no chunk for " + timeout.toSeconds() + " s (--stream-stall-timeout)";
      stalls.refused("ended a stalled blob stream: " + why,
          "blob stream of " + id + " after " + sent + " of " + bytes.byteSize() + " bytes");
      finish();
      try {
        call.onError(Status.DEADLINE_EXCEEDED.withDescription("blob stream of " + id + " ended: " + why).asRuntimeException());
      } catch (RuntimeException e) {
        // the call ended meanwhile
      }
    }
    synchronized void pump() {
      if (finished) {
        return;
      }
      long size = bytes.byteSize();
      boolean done = false;
      try {
        while (!started || sent < size) {
          if (!call.isReady() || call.isCancelled()) {
            return; // resumed by the on-ready handler, or ended by the cancel handler
          }
          int n = (int) Math.min(chunk, size - sent);
          BlobChunk.Builder c = BlobChunk.newBuilder().setOffset(sent);
          if (!started) {
            c.setTotalSize(size);
            started = true;
          }
          if (n > 0) {
            // Wraps the shared memory: the bytes are copied once, straight into the transport's buffer.
            c.setData(UnsafeByteOperations.unsafeWrap(bytes.asSlice(sent, n).asByteBuffer()));
          }
          call.onNext(c.build());
          sent += n;
          lastProgress = System.nanoTime();
        }
        done = true;
        call.onCompleted();
      } catch (RuntimeException e) {
        done = true;
        LOG.warn("blob stream failed after {} bytes: {}", sent, e.toString());
        throw e;
      } finally {
        if (done || call.isCancelled()) {
          finish();
        }
      }
    }

    synchronized void finish() {
      if (!finished) {
        finished = true;
        streams.remove(this);
        read.close();
      }
    }
  }
}
