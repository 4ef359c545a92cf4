package io.vineyard.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.internal.Protos;
import io.vineyard.internal.UnixSocketConnection;
import io.vineyard.proto.ipc.AbortBlobRequest;
import io.vineyard.proto.ipc.BlobLocation;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.DeleteRequest;
import io.vineyard.proto.ipc.DeleteResponse;
import io.vineyard.proto.ipc.DropNameRequest;
import io.vineyard.proto.ipc.ExistsRequest;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.GetMetaRequest;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateRequest;
import io.vineyard.proto.ipc.MigrateRequest;
import io.vineyard.proto.ipc.PersistRequest;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.PutMetaRequest;
import io.vineyard.proto.ipc.PutNameRequest;
import io.vineyard.proto.ipc.Region;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.RegisterResponse;
import io.vineyard.proto.ipc.ReleaseRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.SealBlobRequest;
import io.vineyard.proto.ipc.StatsRequest;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection to the node-local {@code vineyardd} over its UNIX-domain socket.
 *
 * <p>Blobs are shared, not copied: the daemon passes the descriptors of its shared-memory files over
 * the socket once per connection, the client maps each file once, and every blob it creates or gets
 * is a view of those mappings. Thread-safe: requests from several threads are serialized on the one
 * connection.
 *
 * <p>Closing the client closes every {@link Blob} and {@link BlobWriter} it handed out; the daemon
 * then drops this client's pins and reclaims the blobs it left unsealed. Handles still open at close
 * are a leak in the caller: close cleans them up and then throws {@link IllegalStateException}, so
 * that tests notice.
 */
public final class IpcClient implements MetadataClient {

  /** Environment variable naming the daemon's socket. */
  public static final String SOCKET_ENV = "VINEYARD_IPC_SOCKET";

  /** How long one request may wait for the daemon by default. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);

  private static final Logger LOG = LoggerFactory.getLogger(IpcClient.class);
  private static final int MAX_FRAME = 256 << 20;

  private final UnixSocketConnection conn;
  private final ReentrantLock lock = new ReentrantLock();
  private final Map<Integer, SharedRegion> regions = new HashMap<>();
  private final Set<Blob> openBlobs = ConcurrentHashMap.newKeySet();
  private final Set<BlobWriter> openWriters = ConcurrentHashMap.newKeySet();
  private final long instanceId;
  private final long clientId;
  private final String daemonVersion;
  private final long inlineLimit;
  private volatile boolean closed;
  private long lastRequestId;

  private IpcClient(UnixSocketConnection conn, String name) {
    this.conn = conn;
    Response r =
        call(Request.newBuilder()
            .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName(name))
            .build());
    RegisterResponse reg = r.getRegister();
    if (reg.getVersion() != ProtocolVersion.PROTOCOL_VERSION_2) {
      conn.close();
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "daemon speaks protocol " + reg.getVersion());
    }
    this.instanceId = reg.getInstanceId();
    this.clientId = reg.getClientId();
    this.daemonVersion = reg.getDaemonVersion();
    // An inline blob must fit in one request frame, with room for the rest of the request.
    this.inlineLimit = Math.min(INLINE_LIMIT, Math.max(0, reg.getMaxFrame() / 2L - 1024));
  }

  /** Connects to the socket named by {@value #SOCKET_ENV}, else the default path. */
  public static IpcClient connect() {
    return connect(defaultSocket());
  }

  public static IpcClient connect(Path socket) {
    return connect(socket, DEFAULT_TIMEOUT, "java-client");
  }

  /**
   * Connects and registers.
   *
   * @param timeout how long one request may wait for the daemon before the connection is given up
   * @param clientName shown in the daemon's log
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when no daemon listens there
   */
  public static IpcClient connect(Path socket, Duration timeout, String clientName) {
    UnixSocketConnection conn = UnixSocketConnection.connect(socket, timeout);
    try {
      return new IpcClient(conn, clientName);
    } catch (RuntimeException e) {
      conn.close();
      throw e;
    }
  }

  /**
   * The socket a client uses by default: {@value #SOCKET_ENV} if set, else
   * {@code /var/run/vineyard.sock} for root and {@code ~/.local/vineyard/vineyard.sock} for others.
   */
  public static Path defaultSocket() {
    String env = System.getenv(SOCKET_ENV);
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    if ("root".equals(System.getProperty("user.name"))) {
      return Path.of("/var/run/vineyard.sock");
    }
    return Path.of(System.getProperty("user.home"), ".local", "vineyard", "vineyard.sock");
  }

  /** The daemon's instance id. */
  public long instanceId() {
    return instanceId;
  }

  /** This connection's id in the daemon's log. */
  public long clientId() {
    return clientId;
  }

  public String daemonVersion() {
    return daemonVersion;
  }

  public Path socket() {
    return conn.path();
  }

  // ---------------------------------------------------------------- blobs

  /**
   * Blobs up to this size are staged in local memory and created and sealed in one round trip,
   * their bytes carried in the request; larger ones are written in place in shared memory.
   */
  public static final long INLINE_LIMIT = 64 << 10;

  /**
   * Starts a blob of {@code size} bytes for this client to fill and seal.
   *
   * @throws VineyardException {@link ErrorCode#OUT_OF_MEMORY} when the store cannot hold it
   */
  public BlobWriter createBlob(long size) {
    if (size < 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob size must not be negative: " + size);
    }
    if (closed) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "client is closed");
    }
    BlobWriter w;
    if (size > 0 && size <= inlineLimit) {
      w = new BlobWriter(this, size);
    } else {
      Reservation r = reserve(size);
      w = new BlobWriter(this, r.id(), r.segment(), 0, size);
    }
    openWriters.add(w);
    return w;
  }

  /** A blob allocated in the daemon and not sealed yet: its id and writable bytes. */
  record Reservation(ObjectId id, MemorySegment segment) {}

  /** Allocates an unsealed blob in shared memory (one round trip). */
  Reservation reserve(long size) {
    lock.lock();
    try {
      Response r = call(Request.newBuilder().setCreateBlob(CreateBlobRequest.newBuilder().setSize(size)).build());
      BlobLocation loc = r.getCreateBlob().getBlob();
      MemorySegment bytes =
          loc.getSize() == 0 ? MemorySegment.NULL : regionFor(loc).readWrite().asSlice(loc.getOffset(), loc.getSize());
      return new Reservation(new ObjectId(loc.getId()), bytes);
    } finally {
      lock.unlock();
    }
  }

  /** Creates and seals a blob holding {@code data}, in one round trip. */
  ObjectId createSealed(MemorySegment data) {
    return createSealed(UnsafeByteOperations.unsafeWrap(data.asByteBuffer()));
  }

  private ObjectId createSealed(ByteString data) {
    CreateBlobRequest.Builder req =
        CreateBlobRequest.newBuilder().setSize(data.size()).setSealWithData(true).setData(data);
    return new ObjectId(call(Request.newBuilder().setCreateBlob(req).build()).getCreateBlob().getBlob().getId());
  }

  /** Creates a blob holding a copy of {@code bytes}, seals it and returns its id. */
  public ObjectId putBlob(byte[] bytes) {
    if (bytes.length > 0 && bytes.length <= inlineLimit) {
      // Straight from the array into the request: no staging copy.
      return createSealed(UnsafeByteOperations.unsafeWrap(bytes));
    }
    try (BlobWriter w = createBlob(bytes.length)) {
      MemorySegment.copy(bytes, 0, w.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes.length);
      return w.seal();
    }
  }

  /**
   * Gets a sealed blob, pinned for this client until the returned handle is closed.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} for an unknown or deleted id,
   *     {@link ErrorCode#NOT_SEALED} for a blob still being written
   */
  public Blob getBlob(ObjectId id) {
    return getBlobs(List.of(id)).getFirst();
  }

  /** Gets several sealed blobs in one round trip; all or none are pinned. */
  public List<Blob> getBlobs(Collection<ObjectId> ids) {
    GetBlobsRequest.Builder req = GetBlobsRequest.newBuilder();
    for (ObjectId id : ids) {
      req.addIds(id.value());
    }
    lock.lock();
    try {
      Response r = call(Request.newBuilder().setGetBlobs(req).build());
      List<Blob> out = new ArrayList<>(r.getGetBlobs().getBlobsCount());
      for (BlobLocation loc : r.getGetBlobs().getBlobsList()) {
        SharedRegion region = loc.getSize() == 0 ? null : regionFor(loc);
        MemorySegment base = region == null ? MemorySegment.NULL : region.readOnly();
        int fd = region == null ? -1 : region.fd();
        Blob b = new Blob(this, new ObjectId(loc.getId()), base, fd, loc.getOffset(), loc.getSize());
        openBlobs.add(b);
        out.add(b);
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** Whether a sealed object (blob or metadata object) with this id exists. */
  public boolean exists(ObjectId id) {
    return call(Request.newBuilder().setExists(ExistsRequest.newBuilder().setId(id.value())).build())
        .getExists()
        .getExists();
  }

  /**
   * Deletes objects. Memory of blobs that some client still holds is freed when the last pin goes.
   *
   * @param force delete even objects that another object references as a member
   * @param deep also delete members that no other object references
   * @return the ids actually deleted (with {@code deep}, members too)
   * @throws VineyardException {@link ErrorCode#NOT_FOUND}, {@link ErrorCode#OBJECT_IN_USE}
   */
  public List<ObjectId> delete(Collection<ObjectId> ids, boolean force, boolean deep) {
    DeleteRequest.Builder req = DeleteRequest.newBuilder().setForce(force).setDeep(deep);
    ids.forEach(id -> req.addIds(id.value()));
    DeleteResponse r = call(Request.newBuilder().setDelete(req).build()).getDelete();
    return r.getDeletedList().stream().map(ObjectId::new).toList();
  }

  /** Deletes one object, without force, not deep. */
  public void delete(ObjectId id) {
    delete(List.of(id), false, false);
  }

  // ---------------------------------------------------------------- metadata

  /**
   * Stores an object's metadata; its members must exist (and blobs be sealed). A global object's
   * members ({@link ObjectMeta.Builder#global}) are persisted objects on any instance, and the global
   * object is persisted at once.
   *
   * @return the new object's id
   */
  public ObjectId putMeta(ObjectMeta meta) {
    return new ObjectId(
        call(Request.newBuilder().setPutMeta(PutMetaRequest.newBuilder().setMeta(Protos.toProto(meta))).build())
            .getPutMeta()
            .getId());
  }

  /** The full metadata tree of an object (a blob's too), held here or persisted by any instance. */
  @Override
  public ObjectMeta getMeta(ObjectId id) {
    return Protos.fromProto(
        call(Request.newBuilder().setGetMeta(GetMetaRequest.newBuilder().setId(id.value())).build())
            .getGetMeta()
            .getMeta());
  }

  /**
   * Lists this daemon's objects whose typename matches a glob ({@code *}, {@code ?}); {@code null}
   * or empty for all.
   *
   * @param limit at most this many; 0 for the daemon's default
   */
  public List<ObjectInfo> list(String typenamePattern, int limit) {
    return listObjects(typenamePattern, limit).objects();
  }

  /** Like {@link #list}, and says whether the limit cut the listing short. */
  public Listing listObjects(String typenamePattern, int limit) {
    return listObjects(typenamePattern, limit, false);
  }

  @Override
  public Listing listObjects(String typenamePattern, int limit, boolean global) {
    ListRequest.Builder req = ListRequest.newBuilder().setLimit(limit).setGlobal(global);
    if (typenamePattern != null) {
      req.setTypenamePattern(typenamePattern);
    }
    return Protos.fromProto(call(Request.newBuilder().setList(req).build()).getList());
  }

  // ---------------------------------------------------------------- cluster

  /**
   * Publishes an object (and every member under it) to the cluster's metadata, so that every
   * instance can see, locate and migrate it; names bound to it resolve everywhere. Idempotent.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when the object is not held by this
   *     daemon, {@link ErrorCode#UNAVAILABLE} when the metadata backend cannot be reached
   */
  public void persist(ObjectId id) {
    call(Request.newBuilder().setPersist(PersistRequest.newBuilder().setId(id.value())).build());
  }

  @Override
  public List<InstanceInfo> instances() {
    return call(Request.newBuilder().setInstances(InstancesRequest.getDefaultInstance()).build())
        .getInstances()
        .getInstancesList()
        .stream()
        .map(Protos::fromProto)
        .toList();
  }

  @Override
  public List<Placement> locate(ObjectId id) {
    return call(Request.newBuilder().setLocate(LocateRequest.newBuilder().setId(id.value())).build())
        .getLocate()
        .getPlacementsList()
        .stream()
        .map(Protos::fromProto)
        .toList();
  }

  /**
   * Makes a persisted object local: the daemon pulls the blobs it does not hold from their owners'
   * gRPC ports into its own memory and registers a replica with the same structure, which this
   * client then reads zero-copy. Migrating an object that is already local returns it as it is;
   * migrating the same remote object again returns the replica made the first time, while it exists.
   *
   * @return the id of the local object
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when no instance has persisted it,
   *     {@link ErrorCode#UNAVAILABLE} when its owner cannot be reached, {@link
   *     ErrorCode#OUT_OF_MEMORY} when it does not fit here
   */
  public ObjectId migrate(ObjectId id) {
    return migrate(id, DEFAULT_MIGRATE_TIMEOUT);
  }

  /** How long {@link #migrate(ObjectId)} waits for the daemon (copying 1 TB at 1 GB/s takes 17 minutes). */
  public static final Duration DEFAULT_MIGRATE_TIMEOUT = Duration.ofMinutes(30);

  /**
   * Like {@link #migrate(ObjectId)}, waiting at most {@code timeout} for the copy; the connection
   * breaks at once if the daemon goes away.
   */
  public ObjectId migrate(ObjectId id, Duration timeout) {
    Request req = Request.newBuilder().setMigrate(MigrateRequest.newBuilder().setId(id.value())).build();
    return new ObjectId(call(req, System.nanoTime() + timeout.toNanos()).getMigrate().getId());
  }

  /** Binds {@code name} to an object, replacing an earlier binding of that name. */
  public void putName(String name, ObjectId id) {
    call(Request.newBuilder().setPutName(PutNameRequest.newBuilder().setName(name).setId(id.value())).build());
  }

  /**
   * The object bound to {@code name}.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when unbound
   */
  @Override
  public ObjectId getName(String name) {
    return new ObjectId(
        call(Request.newBuilder().setGetName(GetNameRequest.newBuilder().setName(name)).build())
            .getGetName()
            .getId());
  }

  public void dropName(String name) {
    call(Request.newBuilder().setDropName(DropNameRequest.newBuilder().setName(name)).build());
  }

  /** The daemon's counters. */
  @Override
  public StoreStats stats() {
    return Protos.fromProto(call(Request.newBuilder().setStats(StatsRequest.getDefaultInstance()).build()).getStats());
  }

  // ---------------------------------------------------------------- handle callbacks

  void seal(ObjectId id, boolean keepPinned) {
    call(Request.newBuilder()
        .setSealBlob(SealBlobRequest.newBuilder().setId(id.value()).setKeepPinned(keepPinned))
        .build());
  }

  void abort(ObjectId id) {
    if (closed) {
      return;
    }
    call(Request.newBuilder().setAbortBlob(AbortBlobRequest.newBuilder().setId(id.value())).build());
  }

  void writerDone(BlobWriter w) {
    openWriters.remove(w);
  }

  void released(Blob b) {
    openBlobs.remove(b);
    releaseSealed(b.id());
  }

  /** Releases collected on this thread inside {@link #batchReleases}; null outside it. */
  private final ThreadLocal<List<Long>> releaseBatch = new ThreadLocal<>();

  /**
   * Runs {@code body}, sending the pins it releases on this thread (closing blobs, Arrow buffers or
   * whole Arrow vectors made from them) to the daemon as one message when it ends, instead of one
   * message per blob. For closing objects made of many blobs; nested calls join the outer one.
   */
  public void batchReleases(Runnable body) {
    if (releaseBatch.get() != null) {
      body.run();
      return;
    }
    List<Long> ids = new ArrayList<>();
    releaseBatch.set(ids);
    try {
      body.run();
    } finally {
      releaseBatch.remove();
      sendRelease(ids);
    }
  }

  /** Drops one pin; one-way, so it costs a send and no round trip. */
  void releaseSealed(ObjectId id) {
    List<Long> batch = releaseBatch.get();
    if (batch != null) {
      batch.add(id.value());
      return;
    }
    sendRelease(List.of(id.value()));
  }

  private void sendRelease(List<Long> ids) {
    if (closed || ids.isEmpty()) {
      return;
    }
    lock.lock();
    try {
      if (!closed) {
        send(Request.newBuilder().setRelease(ReleaseRequest.newBuilder().addAllIds(ids)).build());
      }
    } catch (VineyardException e) {
      LOG.warn("could not release {} blob(s): {}", ids.size(), e.getMessage());
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- plumbing

  private SharedRegion regionFor(BlobLocation loc) {
    SharedRegion region = regions.get(loc.getRegion());
    if (region == null) {
      throw new VineyardException(
          ErrorCode.PROTOCOL_ERROR, "daemon referred to region " + loc.getRegion() + " it never sent");
    }
    return region;
  }

  private void send(Request request) {
    if (closed) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "client is closed");
    }
    conn.writeFrame(request);
  }

  private Response call(Request request) {
    return call(request, 0);
  }

  /** Sends a request and reads its answer, waiting until {@code deadlineNanos} if it is not 0. */
  private Response call(Request request, long deadlineNanos) {
    lock.lock();
    try {
      long rid = ++lastRequestId;
      send(request.toBuilder().setRequestId(rid).build());
      Response r;
      try {
        r = Response.parseFrom(conn.readFrame(MAX_FRAME, deadlineNanos));
      } catch (InvalidProtocolBufferException e) {
        conn.close();
        throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "malformed response from the daemon", e);
      }
      for (Region region : r.getNewRegionsList()) {
        int fd = conn.takeFd();
        SharedRegion old = regions.put(region.getId(), new SharedRegion(region.getId(), region.getSize(), fd));
        if (old != null) {
          old.close();
        }
      }
      if (r.hasError()) {
        throw Protos.fromProto(r.getError());
      }
      if (r.getRequestId() != rid) {
        conn.close();
        throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "daemon answered request " + r.getRequestId() + ", expected " + rid);
      }
      return r;
    } finally {
      lock.unlock();
    }
  }

  /** Blob and writer handles still open (for diagnostics and leak checks). */
  public int openHandleCount() {
    return openBlobs.size() + openWriters.size();
  }

  public boolean isClosed() {
    return closed;
  }

  /**
   * Closes the connection and every handle still open.
   *
   * @throws IllegalStateException when handles were still open (a leak in the caller)
   */
  @Override
  public void close() {
    List<Blob> blobs;
    List<BlobWriter> writers;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      blobs = List.copyOf(openBlobs);
      writers = List.copyOf(openWriters);
      openBlobs.clear();
      openWriters.clear();
    } finally {
      lock.unlock();
    }
    // Handles are invalidated outside the client lock: a writer takes its own monitor and then the
    // client lock (seal), so taking them in the other order here could deadlock.
    List<String> leaked = new ArrayList<>();
    boolean arrowStillLive = false;
    for (Blob b : blobs) {
      leaked.add(b.toString());
      arrowStillLive |= b.hasArrowReferences();
      b.invalidate();
    }
    for (BlobWriter w : writers) {
      leaked.add(w.toString());
      arrowStillLive |= w.hasArrowReferences();
      w.invalidate();
    }
    lock.lock();
    try {
      conn.close();
      if (arrowStillLive) {
        // Unmapping under live Arrow buffers would turn the caller's bug into a crash: keep the
        // mappings (the daemon has already dropped this client's pins).
        LOG.error("closing client {} with Arrow buffers still live; leaving its mappings in place", clientId);
      } else {
        regions.values().forEach(SharedRegion::close);
      }
      regions.clear();
    } finally {
      lock.unlock();
    }
    if (!leaked.isEmpty()) {
      throw new IllegalStateException("client closed with " + leaked.size() + " open handle(s): " + leaked);
    }
  }
}
