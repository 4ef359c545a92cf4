package io.vineyard.client;

import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
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
import io.vineyard.proto.ipc.GetMetaRequest;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateRequest;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.proto.rpc.FetchBlobRequest;
import io.vineyard.proto.rpc.VineyardGrpc;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

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

  private final String endpoint;
  private final ManagedChannel channel;
  private final VineyardGrpc.VineyardBlockingStub stub;
  private final Duration timeout;

  private RpcClient(String endpoint, ManagedChannel channel, Duration timeout) {
    this.endpoint = endpoint;
    this.channel = channel;
    this.stub = VineyardGrpc.newBlockingStub(channel);
    this.timeout = timeout;
  }

  /** Connects to {@code host:port} (or {@code host}, on {@value #DEFAULT_PORT}). */
  public static RpcClient connect(String endpoint) {
    return connect(endpoint, DEFAULT_TIMEOUT);
  }

  /**
   * Connects to {@code host:port} (or {@code host}, on {@value #DEFAULT_PORT}). The connection is made
   * lazily: an unreachable daemon shows as {@link ErrorCode#UNAVAILABLE} on the first call.
   *
   * @param timeout how long one metadata call may take
   */
  public static RpcClient connect(String endpoint, Duration timeout) {
    HostPort hp = HostPort.parse(endpoint, DEFAULT_PORT);
    ManagedChannel ch =
        NettyChannelBuilder.forAddress(hp.host(), hp.port())
            .usePlaintext()
            // Metadata replies (a global listing) can be large; blob chunks are CHUNK_SIZE.
            .maxInboundMessageSize(MAX_MESSAGE)
            .keepAliveTime(30, TimeUnit.SECONDS)
            .build();
    return new RpcClient(hp.toString(), ch, timeout);
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
      throw annotate(GrpcErrors.fromStatus(e));
    }
  }

  /**
   * A transport failure (no daemon there, connection lost) is reported as such, with the endpoint
   * and the root cause in a few words; errors the daemon itself sent pass through unchanged.
   */
  private VineyardException annotate(VineyardException e) {
    if (e.code() != ErrorCode.UNAVAILABLE || GrpcErrors.fromDaemon(e.getCause())) {
      return e;
    }
    return new VineyardException(
        ErrorCode.UNAVAILABLE, "cannot reach vineyardd's gRPC port at " + endpoint + ": " + GrpcErrors.rootCause(e.getCause()), e.getCause());
  }

  @Override
  public ObjectMeta getMeta(ObjectId id) {
    return Protos.fromProto(call(() -> stub().getMeta(GetMetaRequest.newBuilder().setId(id.value()).build())).getMeta());
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
      chunks = ClientCalls.blockingServerStreamingCall(channel, ChunkStream.FETCH_BLOB, CallOptions.DEFAULT, req);
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
    return "RpcClient[" + endpoint + "]";
  }
}
