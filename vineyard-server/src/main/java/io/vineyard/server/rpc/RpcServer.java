package io.vineyard.server.rpc;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.internal.GrpcErrors;
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
import io.vineyard.server.cluster.Cluster;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.Session;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's gRPC port: cluster metadata for remote clients, and blob bytes for peers that migrate
 * objects. Blob streams follow the receiver's pace (a chunk is sent only while the transport is
 * ready), and the blob stays pinned until its stream ends, so it is neither freed nor spilled
 * meanwhile.
 */
public final class RpcServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RpcServer.class);

  static final int DEFAULT_CHUNK = 1 << 20;
  static final int MIN_CHUNK = 64 << 10;
  static final int MAX_CHUNK = 8 << 20;

  private final Server server;

  private RpcServer(Server server) {
    this.server = server;
  }

  /**
   * Binds {@code host:port} (port 0: any free port) and starts serving.
   *
   * @throws VineyardException {@link ErrorCode#IO_ERROR} when the address cannot be bound
   */
  public static RpcServer start(String host, int port, Cluster cluster, int defaultListLimit) {
    Server s =
        NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
            .addService(new Service(cluster, defaultListLimit))
            .build();
    try {
      s.start();
    } catch (IOException e) {
      s.shutdownNow();
      String why = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
      throw new VineyardException(
          ErrorCode.IO_ERROR,
          "cannot serve gRPC on " + host + ":" + port + ": " + why
              + " (another vineyardd on this host? give each its own --rpc-port, or 0 for any free port)",
          e);
    }
    LOG.info("gRPC listening on {}:{}", host, s.getPort());
    return new RpcServer(s);
  }

  /** The bound port. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    }
  }

  private static final class Service extends VineyardGrpc.VineyardImplBase {

    private final Cluster cluster;
    private final int defaultListLimit;

    Service(Cluster cluster, int defaultListLimit) {
      this.cluster = cluster;
      this.defaultListLimit = defaultListLimit;
    }

    private static <T> void unary(String what, StreamObserver<T> obs, Supplier<T> body) {
      T result;
      try {
        result = body.get();
      } catch (VineyardException e) {
        obs.onError(GrpcErrors.toStatus(e));
        return;
      } catch (RuntimeException e) {
        LOG.error("gRPC {} failed", what, e);
        obs.onError(GrpcErrors.toStatus(new VineyardException(ErrorCode.INTERNAL, e.toString())));
        return;
      }
      obs.onNext(result);
      obs.onCompleted();
    }

    @Override
    public void getMeta(GetMetaRequest req, StreamObserver<GetMetaResponse> obs) {
      unary("get-meta", obs, () -> GetMetaResponse.newBuilder().setMeta(cluster.getMeta(req.getId())).build());
    }

    @Override
    public void getName(GetNameRequest req, StreamObserver<GetNameResponse> obs) {
      unary("get-name", obs, () -> GetNameResponse.newBuilder().setId(cluster.getName(req.getName())).build());
    }

    @Override
    public void list(ListRequest req, StreamObserver<ListResponse> obs) {
      unary("list", obs, () -> req.getGlobal()
          ? cluster.listGlobal(req.getTypenamePattern(), req.getLimit(), defaultListLimit)
          : cluster.listLocal(req.getTypenamePattern(), req.getLimit()));
    }

    @Override
    public void instances(InstancesRequest req, StreamObserver<InstancesResponse> obs) {
      unary("instances", obs, () -> InstancesResponse.newBuilder().addAllInstances(cluster.instances()).build());
    }

    @Override
    public void locate(LocateRequest req, StreamObserver<LocateResponse> obs) {
      unary("locate", obs, () -> LocateResponse.newBuilder().addAllPlacements(cluster.locate(req.getId())).build());
    }

    @Override
    public void stats(StatsRequest req, StreamObserver<StatsResponse> obs) {
      unary("stats", obs, () -> cluster.store().stats());
    }

    @Override
    public void fetchBlob(FetchBlobRequest req, StreamObserver<BlobChunk> obs) {
      ServerCallStreamObserver<BlobChunk> call = (ServerCallStreamObserver<BlobChunk>) obs;
      int chunk = req.getChunkSize() == 0 ? DEFAULT_CHUNK : Math.clamp(req.getChunkSize(), MIN_CHUNK, MAX_CHUNK);
      ObjectStore store;
      Session session;
      MemorySegment bytes;
      try {
        if (!ObjectId.isBlobId(req.getId())) {
          throw new VineyardException(ErrorCode.INVALID_ARGUMENT, new ObjectId(req.getId()) + " is not a blob id");
        }
        store = cluster.store();
        session = store.openSession("gRPC fetch of " + new ObjectId(req.getId()));
        try {
          ObjectStore.Location loc = store.getBlobs(session, List.of(req.getId())).getFirst();
          bytes = loc.size() == 0 ? MemorySegment.NULL : cluster.memory().asSlice(loc.offset(), loc.size());
        } catch (RuntimeException e) {
          store.closeSession(session);
          throw e;
        }
      } catch (VineyardException e) {
        obs.onError(GrpcErrors.toStatus(e));
        return;
      }
      BlobStream stream = new BlobStream(call, store, session, bytes, chunk);
      call.setOnCancelHandler(stream::finish);
      call.setOnReadyHandler(stream::pump);
      stream.pump();
    }
  }

  /** One blob going out in chunks while the transport is ready; unpins the blob when done. */
  private static final class BlobStream {
    private final ServerCallStreamObserver<BlobChunk> call;
    private final ObjectStore store;
    private final Session session;
    private final MemorySegment bytes;
    private final int chunk;
    private long sent;
    private boolean started;
    private boolean finished;

    BlobStream(ServerCallStreamObserver<BlobChunk> call, ObjectStore store, Session session, MemorySegment bytes, int chunk) {
      this.call = call;
      this.store = store;
      this.session = session;
      this.bytes = bytes;
      this.chunk = chunk;
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
        store.closeSession(session);
      }
    }
  }
}
