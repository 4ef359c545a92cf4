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
import io.vineyard.internal.ReplyDemux;
import io.vineyard.internal.UnixSocketConnection;
import io.vineyard.proto.ipc.AbortBlobRequest;
import io.vineyard.proto.ipc.BlobLocation;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.CreateBlobsRequest;
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
import io.vineyard.proto.ipc.SealBlobsRequest;
import io.vineyard.proto.ipc.StatsRequest;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection to the node-local {@code vineyardd} over its UNIX-domain socket.
 *
 * <p>Blobs are shared, not copied: the daemon passes the descriptors of its shared-memory files over
 * the socket once per connection, the client maps each file once, and every blob it creates or gets
 * is a view of those mappings.
 *
 * <h2>Threads</h2>
 *
 * <p>Thread-safe, and made for many threads sharing one client: each request carries an id and
 * several may be in flight at once; a thread holds the connection only while it writes its request
 * frame, and replies (which the daemon may send in any order) are matched to their callers by id.
 * A slow call (a migration, a persist waiting on etcd, a get waiting for a spilled blob) does not
 * hold up other threads' calls on the client's side, nor {@link Blob#close()} (a release is one
 * frame, never waited for) nor {@link #close()}. Whether the daemon answers a later request before
 * a slow earlier one is the daemon's business (see docs/ipc-protocol.md).
 *
 * <p>Replies are read by the callers themselves (see {@link ReplyDemux}: a waiting caller reads for
 * everyone while no one else does), so a single thread pays no hand-off. {@code *Async} methods
 * return at once. Their futures are completed on a small executor of this client's, and every stage
 * chained to such a future ({@code thenApply}, {@code whenComplete}, ...) runs there too, never on
 * a thread that reads replies or holds a client lock, so a callback may call the client again,
 * blocking calls included.
 *
 * <p>Every call waits at most the client's timeout ({@link Builder#timeout}; {@link #migrate} has
 * its own), then fails with {@link ErrorCode#UNAVAILABLE}. Such a call is abandoned but the
 * connection stays up: if its reply comes later it is dropped, and what it holds (pins, unsealed
 * blobs) is released. A connection that breaks (the daemon died) fails every call in flight at once
 * with {@link ErrorCode#UNAVAILABLE}, and every later one.
 *
 * <h2>Closing</h2>
 *
 * <p>Closing the client (from any thread; idempotent) fails the calls still in flight with {@link
 * ErrorCode#UNAVAILABLE} and closes every {@link Blob} and {@link BlobWriter} it handed out; the
 * daemon then drops this client's pins and reclaims the blobs it left unsealed. Handles still open
 * at close are a leak in the caller: close cleans them up and then throws a {@link
 * VineyardException} with {@link ErrorCode#ILLEGAL_STATE}, so that tests notice.
 */
public final class IpcClient implements MetadataClient {

  /** Environment variable naming the daemon's socket. */
  public static final String SOCKET_ENV = "VINEYARD_IPC_SOCKET";

  /** How long one request may wait for the daemon by default. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);

  private static final Logger LOG = LoggerFactory.getLogger(IpcClient.class);
  private static final int MAX_FRAME = 256 << 20;

  private final UnixSocketConnection conn;
  private final ReplyDemux demux;
  private final Duration timeout;
  /** Guards the region table and the mappings: taken briefly, never while waiting for a reply. */
  private final Object regionLock = new Object();
  /** Regions this client reads, by id: mapped from read-only descriptors. */
  private final Map<Integer, SharedRegion> regions = new HashMap<>();
  /** Regions this client writes blobs in place in, by id: mapped from read-write descriptors. */
  private final Map<Integer, SharedRegion> writableRegions = new HashMap<>();
  private final Set<Blob> openBlobs = ConcurrentHashMap.newKeySet();
  private final Set<BlobWriter> openWriters = ConcurrentHashMap.newKeySet();
  private final AtomicLong lastRequestId = new AtomicLong();
  private final AtomicBoolean closing = new AtomicBoolean();
  private final long instanceId;
  private final long clientId;
  private final String daemonVersion;
  private final long inlineLimit;
  private final long maxRequestFrame;
  private volatile boolean closed;
  private volatile ExecutorService callbacks;
  /** Completes async futures on the executor, in batches (see {@link CompletionQueue}). */
  private final CompletionQueue completions = new CompletionQueue(this::runCallback);
  private final StagingPool staging = new StagingPool();

  private IpcClient(UnixSocketConnection conn, Duration timeout, String name) {
    this.conn = conn;
    this.timeout = timeout;
    this.demux = new ReplyDemux(this::nextResponse, conn.path().toString());
    Response r =
        call(Request.newBuilder()
            .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName(name)));
    RegisterResponse reg = r.getRegister();
    if (reg.getVersion() != ProtocolVersion.PROTOCOL_VERSION_2) {
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "daemon speaks protocol " + reg.getVersion());
    }
    this.instanceId = reg.getInstanceId();
    this.clientId = reg.getClientId();
    this.daemonVersion = reg.getDaemonVersion();
    this.maxRequestFrame = reg.getMaxFrame();
    // An inline blob must fit in one request frame, with room for the rest of the request.
    this.inlineLimit = Math.min(INLINE_LIMIT, Math.max(0, reg.getMaxFrame() / 2L - 1024));
  }

  /** Options for a connection; {@link #connect()} opens it. Not thread-safe (a builder). */
  public static final class Builder {
    private Path socket;
    private Duration timeout = DEFAULT_TIMEOUT;
    private String clientName = "java-client";
    private boolean metadataOnly;

    private Builder() {}

    /**
     * A client for metadata only: metadata, names, listing, stats, deletes, persist, locate and
     * migrate, but no blobs' bytes (creating or getting a blob fails with {@link
     * ErrorCode#ILLEGAL_STATE}). It connects through the JDK's own UNIX-domain channel instead of the
     * foreign-function layer, so it opens faster (no native linking; for short-lived tools such as
     * {@code vineyardctl ls}, and monitors).
     */
    public Builder metadataOnly() {
      this.metadataOnly = true;
      return this;
    }

    /** The daemon's socket; by default {@link IpcClient#defaultSocket()}. */
    public Builder socket(Path socket) {
      this.socket = Objects.requireNonNull(socket, "socket");
      return this;
    }

    /**
     * How long one request may wait for the daemon (default {@link IpcClient#DEFAULT_TIMEOUT}),
     * except {@link IpcClient#migrate(ObjectId, Duration)}, which says its own.
     */
    public Builder timeout(Duration timeout) {
      if (timeout == null || timeout.isNegative() || timeout.isZero()) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "timeout must be positive: " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /** Shown in the daemon's log (e.g. the job name). */
    public Builder clientName(String clientName) {
      this.clientName = Objects.requireNonNull(clientName, "clientName");
      return this;
    }

    /**
     * Connects and registers.
     *
     * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when no daemon listens there
     */
    public IpcClient connect() {
      Path s = socket != null ? socket : defaultSocket();
      UnixSocketConnection conn =
          metadataOnly ? UnixSocketConnection.connectWithoutDescriptors(s, timeout) : UnixSocketConnection.connect(s, timeout);
      try {
        return new IpcClient(conn, timeout, clientName);
      } catch (RuntimeException e) {
        conn.close();
        throw e;
      }
    }
  }

  /** A builder for a connection with options. */
  public static Builder builder() {
    return new Builder();
  }

  /** Connects to the socket named by {@value #SOCKET_ENV}, else the default path. */
  public static IpcClient connect() {
    return builder().connect();
  }

  public static IpcClient connect(Path socket) {
    return builder().socket(socket).connect();
  }

  /**
   * Connects and registers.
   *
   * @param timeout how long one request may wait for the daemon before it fails
   * @param clientName shown in the daemon's log
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when no daemon listens there
   */
  public static IpcClient connect(Path socket, Duration timeout, String clientName) {
    return builder().socket(socket).timeout(timeout).clientName(clientName).connect();
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

  /** How long one request waits for the daemon. */
  public Duration timeout() {
    return timeout;
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
    requireSharedMemory();
    checkSize(size);
    checkOpen();
    BlobWriter w;
    if (staged(size)) {
      w = new BlobWriter(this, size);
    } else {
      Reservation r = reserve(size);
      w = new BlobWriter(this, r.id(), r.segment(), 0, size);
    }
    return track(w);
  }

  /**
   * Starts several blobs in one round trip (at most; none when all are small enough to be staged
   * locally, as {@link #createBlob} stages them). All or nothing: when the store cannot hold them
   * all, none is created.
   *
   * @return one writer per size, in order
   * @throws VineyardException {@link ErrorCode#OUT_OF_MEMORY} when they do not all fit
   */
  public List<BlobWriter> createBlobs(List<Long> sizes) {
    requireSharedMemory();
    checkOpen();
    CreateBlobsRequest.Builder req = CreateBlobsRequest.newBuilder();
    for (long size : sizes) {
      checkSize(size);
      if (!staged(size)) {
        req.addBlobs(CreateBlobRequest.newBuilder().setSize(size));
      }
    }
    List<Reservation> reserved = req.getBlobsCount() == 0 ? List.of() : reserveAll(req);
    List<BlobWriter> out = new ArrayList<>(sizes.size());
    int next = 0;
    for (long size : sizes) {
      if (staged(size)) {
        out.add(track(new BlobWriter(this, size)));
      } else {
        Reservation r = reserved.get(next++);
        out.add(track(new BlobWriter(this, r.id(), r.segment(), 0, size)));
      }
    }
    return out;
  }

  private static void checkSize(long size) {
    if (size < 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob size must not be negative: " + size);
    }
  }

  private boolean staged(long size) {
    return size > 0 && size <= inlineLimit;
  }

  private BlobWriter track(BlobWriter w) {
    openWriters.add(w);
    if (closed) {
      openWriters.remove(w);
      w.invalidate();
      throw closedError();
    }
    return w;
  }

  /** Where small blobs are staged until sealed. */
  StagingPool staging() {
    return staging;
  }

  /** A blob allocated in the daemon and not sealed yet: its id and writable bytes. */
  record Reservation(ObjectId id, MemorySegment segment) {}

  /** Allocates an unsealed blob in shared memory (one round trip). */
  Reservation reserve(long size) {
    Response r =
        call(Request.newBuilder().setCreateBlob(CreateBlobRequest.newBuilder().setSize(size)), this::abortCreated);
    return reservation(r.getCreateBlob().getBlob());
  }

  private List<Reservation> reserveAll(CreateBlobsRequest.Builder req) {
    Response r = call(Request.newBuilder().setCreateBlobs(req), this::abortCreated);
    List<BlobLocation> locs = r.getCreateBlobs().getBlobsList();
    List<Reservation> out = new ArrayList<>(locs.size());
    try {
      for (BlobLocation loc : locs) {
        out.add(reservation(loc));
      }
    } catch (RuntimeException e) {
      abortCreated(r);
      throw e;
    }
    return out;
  }

  private Reservation reservation(BlobLocation loc) {
    MemorySegment bytes;
    synchronized (regionLock) {
      if (closed) {
        throw closedError();
      }
      bytes = loc.getSize() == 0 ? MemorySegment.NULL : regionFor(loc, true).readWrite().asSlice(loc.getOffset(), loc.getSize());
    }
    return new Reservation(new ObjectId(loc.getId()), bytes);
  }

  /** For a reply nobody takes: aborts the unsealed blobs it created (sealed ones hold no pin). */
  private void abortCreated(Response r) {
    List<BlobLocation> locs =
        r.hasCreateBlob() ? List.of(r.getCreateBlob().getBlob()) : r.getCreateBlobs().getBlobsList();
    for (BlobLocation loc : locs) {
      sendOneWay(Request.newBuilder().setAbortBlob(AbortBlobRequest.newBuilder().setId(loc.getId())));
    }
  }

  /** Creates and seals a blob holding {@code data}, in one round trip. */
  ObjectId createSealed(MemorySegment data) {
    return createSealed(UnsafeByteOperations.unsafeWrap(data.asByteBuffer()));
  }

  private static Request.Builder createSealedRequest(ByteString data) {
    return Request.newBuilder()
        .setCreateBlob(CreateBlobRequest.newBuilder().setSize(data.size()).setSealWithData(true).setData(data));
  }

  private ObjectId createSealed(ByteString data) {
    return new ObjectId(call(createSealedRequest(data)).getCreateBlob().getBlob().getId());
  }

  /** Creates a blob holding a copy of {@code bytes}, seals it and returns its id. */
  public ObjectId putBlob(byte[] bytes) {
    requireSharedMemory();
    if (staged(bytes.length)) {
      // Straight from the array into the request: no staging copy.
      return createSealed(UnsafeByteOperations.unsafeWrap(bytes));
    }
    try (BlobWriter w = createBlob(bytes.length)) {
      MemorySegment.copy(bytes, 0, w.segment(), ValueLayout.JAVA_BYTE, 0, bytes.length);
      return w.seal();
    }
  }

  /**
   * Creates and seals one blob per array, all or nothing: small ones (up to {@link #INLINE_LIMIT},
   * as many as fit in one request frame) travel in one create request and are sealed by it, the
   * others are created by the same request, filled in place and sealed by one more. When anything
   * fails, no blob is left behind.
   *
   * @return the blobs' ids, in order
   * @throws VineyardException {@link ErrorCode#OUT_OF_MEMORY} when they do not all fit
   */
  public List<ObjectId> putBlobs(List<byte[]> blobs) {
    requireSharedMemory();
    checkOpen();
    CreateBlobsRequest.Builder req = CreateBlobsRequest.newBuilder();
    boolean[] inline = new boolean[blobs.size()];
    long budget = maxRequestFrame / 2 - 1024;
    for (int i = 0; i < blobs.size(); i++) {
      byte[] b = blobs.get(i);
      CreateBlobRequest.Builder one = CreateBlobRequest.newBuilder().setSize(b.length);
      if (staged(b.length) && b.length + 64L <= budget) {
        inline[i] = true;
        budget -= b.length + 64L;
        one.setSealWithData(true).setData(UnsafeByteOperations.unsafeWrap(b));
      }
      req.addBlobs(one);
    }
    if (blobs.isEmpty()) {
      return List.of();
    }
    Response r = call(Request.newBuilder().setCreateBlobs(req), late -> undoCreated(late, inline));
    List<BlobLocation> locs = r.getCreateBlobs().getBlobsList();
    if (locs.size() != blobs.size()) {
      throw new VineyardException(
          ErrorCode.PROTOCOL_ERROR, "daemon created " + locs.size() + " blobs for a batch of " + blobs.size());
    }
    List<ObjectId> ids = new ArrayList<>(locs.size());
    SealBlobsRequest.Builder seal = SealBlobsRequest.newBuilder();
    try {
      for (int i = 0; i < locs.size(); i++) {
        BlobLocation loc = locs.get(i);
        ids.add(new ObjectId(loc.getId()));
        if (!inline[i]) {
          byte[] b = blobs.get(i);
          if (b.length > 0) {
            MemorySegment target = reservation(loc).segment();
            MemorySegment.copy(b, 0, target, ValueLayout.JAVA_BYTE, 0, b.length);
          }
          seal.addIds(loc.getId());
        }
      }
      if (seal.getIdsCount() > 0) {
        call(Request.newBuilder().setSealBlobs(seal));
      }
    } catch (RuntimeException e) {
      undoBatch(locs, inline, e);
      throw e;
    }
    return ids;
  }

  /** Takes back a batch put that failed after its create: aborts the unsealed, deletes the sealed. */
  private void undoBatch(List<BlobLocation> locs, boolean[] inline, RuntimeException why) {
    List<ObjectId> sealed = new ArrayList<>();
    for (int i = 0; i < locs.size(); i++) {
      if (inline[i]) {
        sealed.add(new ObjectId(locs.get(i).getId()));
      } else {
        sendOneWay(Request.newBuilder().setAbortBlob(AbortBlobRequest.newBuilder().setId(locs.get(i).getId())));
      }
    }
    if (!sealed.isEmpty()) {
      try {
        delete(sealed, true, false);
      } catch (VineyardException e) {
        why.addSuppressed(e);
      }
    }
  }

  /** For a batch reply nobody takes: aborts what it created unsealed, deletes what it sealed. */
  private void undoCreated(Response r, boolean[] inline) {
    List<BlobLocation> locs = r.getCreateBlobs().getBlobsList();
    DeleteRequest.Builder sealed = DeleteRequest.newBuilder().setForce(true);
    for (int i = 0; i < locs.size(); i++) {
      if (i < inline.length && inline[i]) {
        sealed.addIds(locs.get(i).getId());
      } else {
        abortId(new ObjectId(locs.get(i).getId()));
      }
    }
    if (sealed.getIdsCount() > 0) {
      sendOneWay(Request.newBuilder().setDelete(sealed));
    }
  }

  /**
   * Seals several writers of this client with one seal request for those written in place, and one
   * create request carrying the bytes of those staged locally; all or nothing: when it fails, no
   * writer is sealed (staged blobs already created are deleted again) and every writer stays open.
   *
   * @return the blobs' ids, in the collection's order
   * @throws VineyardException {@link ErrorCode#ALREADY_SEALED} when one was sealed before, {@link
   *     ErrorCode#INVALID_ARGUMENT} for a writer of another client or listed twice
   */
  public List<ObjectId> seal(Collection<BlobWriter> writers) {
    checkOpen();
    List<BlobWriter> list = List.copyOf(writers);
    List<BlobWriter> planned = new ArrayList<>(list.size());
    try {
      return seal(list, planned);
    } finally {
      // Until here the request may still read staging memory: a close() meanwhile must not recycle it.
      planned.forEach(BlobWriter::planDone);
    }
  }

  private List<ObjectId> seal(List<BlobWriter> list, List<BlobWriter> planned) {
    Map<BlobWriter, Boolean> seen = new IdentityHashMap<>();
    List<BlobWriter.SealPlan> plans = new ArrayList<>(list.size());
    for (BlobWriter w : list) {
      if (w.client() != this) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, w + " belongs to another client");
      }
      if (seen.put(w, Boolean.TRUE) != null) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, w + " is listed twice");
      }
      plans.add(w.planSeal());
      planned.add(w);
    }
    CreateBlobsRequest.Builder create = CreateBlobsRequest.newBuilder();
    SealBlobsRequest.Builder seal = SealBlobsRequest.newBuilder();
    boolean keepPinned = false;
    for (BlobWriter.SealPlan p : plans) {
      if (p.inlineData() != null) {
        create.addBlobs(
            CreateBlobRequest.newBuilder()
                .setSize(p.inlineData().byteSize())
                .setSealWithData(true)
                .setData(UnsafeByteOperations.unsafeWrap(p.inlineData().asByteBuffer())));
      } else {
        seal.addIds(p.id().value());
        keepPinned |= p.keepPinned();
      }
    }
    List<ObjectId> created = new ArrayList<>();
    if (create.getBlobsCount() > 0) {
      boolean[] allInline = new boolean[create.getBlobsCount()];
      java.util.Arrays.fill(allInline, true);
      Response r = call(Request.newBuilder().setCreateBlobs(create), late -> undoCreated(late, allInline));
      r.getCreateBlobs().getBlobsList().forEach(loc -> created.add(new ObjectId(loc.getId())));
    }
    if (seal.getIdsCount() > 0) {
      boolean pinned = keepPinned;
      List<Long> ids = seal.getIdsList();
      try {
        call(Request.newBuilder().setSealBlobs(seal.setKeepPinned(pinned)), pinned ? r -> sendRelease(ids) : null);
      } catch (VineyardException e) {
        if (!created.isEmpty()) {
          try {
            delete(created, true, false);
          } catch (VineyardException d) {
            e.addSuppressed(d);
          }
        }
        throw e;
      }
    }
    List<ObjectId> out = new ArrayList<>(plans.size());
    List<Long> unpin = new ArrayList<>();
    int next = 0;
    for (int i = 0; i < plans.size(); i++) {
      BlobWriter.SealPlan p = plans.get(i);
      ObjectId id = p.inlineData() != null ? created.get(next++) : p.id();
      boolean stillPinned = keepPinned && p.inlineData() == null;
      if (stillPinned && !p.keepPinned()) {
        unpin.add(id.value());
        stillPinned = false;
      }
      list.get(i).sealedAs(id, stillPinned);
      out.add(id);
    }
    sendRelease(unpin);
    return out;
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
    requireSharedMemory();
    return blobsOf(call(getBlobsRequest(ids), this::releaseGot));
  }

  private static Request.Builder getBlobsRequest(Collection<ObjectId> ids) {
    GetBlobsRequest.Builder req = GetBlobsRequest.newBuilder();
    for (ObjectId id : ids) {
      req.addIds(id.value());
    }
    return Request.newBuilder().setGetBlobs(req);
  }

  /** For a get reply nobody takes: drops its pins. */
  private void releaseGot(Response r) {
    sendRelease(r.getGetBlobs().getBlobsList().stream().map(BlobLocation::getId).toList());
  }

  private List<Blob> blobsOf(Response r) {
    List<BlobLocation> locs = r.getGetBlobs().getBlobsList();
    List<Blob> out = new ArrayList<>(locs.size());
    try {
      synchronized (regionLock) {
        if (closed) {
          throw closedError();
        }
        for (BlobLocation loc : locs) {
          SharedRegion region = loc.getSize() == 0 ? null : regionFor(loc, false);
          MemorySegment base = region == null ? MemorySegment.NULL : region.readOnly();
          int fd = region == null ? -1 : region.fd();
          Blob b = new Blob(this, new ObjectId(loc.getId()), base, fd, loc.getOffset(), loc.getSize());
          openBlobs.add(b);
          out.add(b);
        }
      }
    } catch (RuntimeException e) {
      for (Blob b : out) {
        openBlobs.remove(b);
        b.invalidate();
      }
      releaseGot(r);
      throw e;
    }
    return out;
  }

  /** Whether a sealed object (blob or metadata object) with this id exists. */
  public boolean exists(ObjectId id) {
    return call(Request.newBuilder().setExists(ExistsRequest.newBuilder().setId(id.value()))).getExists().getExists();
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
    DeleteResponse r = call(Request.newBuilder().setDelete(req)).getDelete();
    return r.getDeletedList().stream().map(ObjectId::new).toList();
  }

  /** Deletes one object, without force, not deep. */
  public void delete(ObjectId id) {
    delete(List.of(id), false, false);
  }

  // ---------------------------------------------------------------- async

  /**
   * Like {@link #putBlob(byte[])}, without waiting. The array must not change until the future
   * completes. A blob up to {@link #INLINE_LIMIT} is one request; a larger one is created, filled
   * (on the client's executor) and sealed, and aborted if any step fails.
   */
  public CompletableFuture<ObjectId> putBlobAsync(byte[] bytes) {
    requireSharedMemory();
    if (staged(bytes.length)) {
      return callAsync(createSealedRequest(UnsafeByteOperations.unsafeWrap(bytes)), null,
          r -> new ObjectId(r.getCreateBlob().getBlob().getId()), null);
    }
    return putInPlaceAsync(bytes.length, target -> MemorySegment.copy(bytes, 0, target, ValueLayout.JAVA_BYTE, 0, bytes.length));
  }

  /** Like {@link #putBlobAsync(byte[])}, from any memory segment (which must not change until done). */
  public CompletableFuture<ObjectId> putBlobAsync(MemorySegment bytes) {
    requireSharedMemory();
    long n = bytes.byteSize();
    if (staged(n)) {
      ByteString data =
          bytes.isNative()
              ? UnsafeByteOperations.unsafeWrap(bytes.asByteBuffer())
              : UnsafeByteOperations.unsafeWrap(bytes.toArray(ValueLayout.JAVA_BYTE));
      return callAsync(createSealedRequest(data), null, r -> new ObjectId(r.getCreateBlob().getBlob().getId()), null);
    }
    return putInPlaceAsync(n, target -> MemorySegment.copy(bytes, 0, target, 0, n));
  }

  private CompletableFuture<ObjectId> putInPlaceAsync(long size, Consumer<MemorySegment> fill) {
    CompletableFuture<Reservation> created =
        callAsync(Request.newBuilder().setCreateBlob(CreateBlobRequest.newBuilder().setSize(size)), this::abortCreated,
            r -> reservation(r.getCreateBlob().getBlob()), res -> abortId(res.id()));
    return created.thenCompose(
        res -> {
          try {
            if (size > 0) {
              fill.accept(res.segment());
            }
          } catch (RuntimeException e) {
            abortId(res.id());
            throw e;
          }
          Request.Builder seal =
              Request.newBuilder().setSealBlob(SealBlobRequest.newBuilder().setId(res.id().value()));
          return callAsync(seal, null, r -> res.id(), null)
              .whenComplete((id, e) -> {
                if (e != null) {
                  abortId(res.id());
                }
              });
        });
  }

  private void abortId(ObjectId id) {
    sendOneWay(Request.newBuilder().setAbortBlob(AbortBlobRequest.newBuilder().setId(id.value())));
  }

  /**
   * Like {@link #getBlobs}, without waiting. If the future is cancelled before the reply comes, the
   * blobs it would have held are released.
   */
  public CompletableFuture<List<Blob>> getBlobsAsync(Collection<ObjectId> ids) {
    requireSharedMemory();
    return callAsync(getBlobsRequest(ids), this::releaseGot, this::blobsOf, blobs -> blobs.forEach(Blob::close));
  }

  /** Like {@link #getMeta}, without waiting. */
  public CompletableFuture<ObjectMeta> getMetaAsync(ObjectId id) {
    return callAsync(Request.newBuilder().setGetMeta(GetMetaRequest.newBuilder().setId(id.value())), null,
        r -> Protos.fromProto(r.getGetMeta().getMeta()), null);
  }

  /** Like {@link #putMeta}, without waiting. */
  public CompletableFuture<ObjectId> putMetaAsync(ObjectMeta meta) {
    Protos.checkText(meta);
    return callAsync(Request.newBuilder().setPutMeta(PutMetaRequest.newBuilder().setMeta(Protos.toProto(meta))), null,
        r -> new ObjectId(r.getPutMeta().getId()), null);
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
    Protos.checkText(meta);
    return new ObjectId(
        call(Request.newBuilder().setPutMeta(PutMetaRequest.newBuilder().setMeta(Protos.toProto(meta))))
            .getPutMeta()
            .getId());
  }

  /** The full metadata tree of an object (a blob's too), held here or persisted by any instance. */
  @Override
  public ObjectMeta getMeta(ObjectId id) {
    return Protos.fromProto(
        call(Request.newBuilder().setGetMeta(GetMetaRequest.newBuilder().setId(id.value()))).getGetMeta().getMeta());
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
    return Protos.fromProto(call(Request.newBuilder().setList(req)).getList());
  }

  /**
   * This daemon's top-level objects: those that are no member of another of its objects, the limit
   * applied after leaving the members out (so a table's blobs never push the table out of a listing).
   */
  public Listing listTopLevel(String typenamePattern, int limit) {
    ListRequest.Builder req = ListRequest.newBuilder().setLimit(limit).setTopLevel(true);
    if (typenamePattern != null) {
      req.setTypenamePattern(typenamePattern);
    }
    return Protos.fromProto(call(Request.newBuilder().setList(req)).getList());
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
    call(Request.newBuilder().setPersist(PersistRequest.newBuilder().setId(id.value())));
  }

  @Override
  public List<InstanceInfo> instances() {
    return call(Request.newBuilder().setInstances(InstancesRequest.getDefaultInstance()))
        .getInstances()
        .getInstancesList()
        .stream()
        .map(Protos::fromProto)
        .toList();
  }

  @Override
  public List<Placement> locate(ObjectId id) {
    return call(Request.newBuilder().setLocate(LocateRequest.newBuilder().setId(id.value())))
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
   * Like {@link #migrate(ObjectId)}, waiting at most {@code timeout} for the copy; the call fails at
   * once if the daemon goes away. Other threads' calls go on meanwhile.
   */
  public ObjectId migrate(ObjectId id, Duration timeout) {
    Request.Builder req = Request.newBuilder().setMigrate(MigrateRequest.newBuilder().setId(id.value()));
    return new ObjectId(call(req, timeout, null).getMigrate().getId());
  }

  /** Binds {@code name} to an object, replacing an earlier binding of that name. */
  public void putName(String name, ObjectId id) {
    call(Request.newBuilder().setPutName(PutNameRequest.newBuilder().setName(name).setId(id.value())));
  }

  /**
   * The object bound to {@code name}.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when unbound
   */
  @Override
  public ObjectId getName(String name) {
    return new ObjectId(call(Request.newBuilder().setGetName(GetNameRequest.newBuilder().setName(name))).getGetName().getId());
  }

  public void dropName(String name) {
    call(Request.newBuilder().setDropName(DropNameRequest.newBuilder().setName(name)));
  }

  /** The daemon's counters. */
  @Override
  public StoreStats stats() {
    return Protos.fromProto(call(Request.newBuilder().setStats(StatsRequest.getDefaultInstance())).getStats());
  }

  /**
   * Asks the daemon to give the pages of its free shared memory back to the system (what {@code
   * vineyardctl trim} does). Blobs stay where they are; a blob created later in trimmed space
   * faults its pages in afresh.
   */
  public TrimResult trim() {
    var t = call(Request.newBuilder().setTrim(io.vineyard.proto.ipc.TrimRequest.getDefaultInstance())).getTrim();
    return new TrimResult(t.getReleasedBytes(), t.getRssBeforeBytes(), t.getRssAfterBytes());
  }

  // ---------------------------------------------------------------- handle callbacks

  void seal(ObjectId id, boolean keepPinned) {
    Consumer<Response> onAbandoned = keepPinned ? r -> sendRelease(List.of(id.value())) : null;
    call(Request.newBuilder().setSealBlob(SealBlobRequest.newBuilder().setId(id.value()).setKeepPinned(keepPinned)),
        onAbandoned);
  }

  void abort(ObjectId id) {
    if (closed) {
      return;
    }
    call(Request.newBuilder().setAbortBlob(AbortBlobRequest.newBuilder().setId(id.value())));
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

  /** One release frame: waits for nothing but the send of that frame. */
  private void sendRelease(List<Long> ids) {
    if (closed || ids.isEmpty()) {
      return;
    }
    if (demux.isReaderThread()) {
      runCallback(() -> sendRelease(ids)); // the reading thread never writes (see deferred)
      return;
    }
    try {
      // While other requests are in flight, the next of their frames (or a flush within a
      // millisecond) takes the release along: one send fewer per blob, nothing reordered.
      conn.writeFrame(Request.newBuilder().setRelease(ReleaseRequest.newBuilder().addAllIds(ids)).build(), demux.anyAwaited());
    } catch (VineyardException e) {
      LOG.warn("could not release {} blob(s): {}", ids.size(), e.getMessage());
    }
  }

  /** A request whose reply nobody waits for (a clean-up): the reply, under an unknown id, is dropped. */
  private void sendOneWay(Request.Builder req) {
    if (closed) {
      return;
    }
    if (demux.isReaderThread()) {
      runCallback(() -> sendOneWay(req)); // the reading thread never writes (see deferred)
      return;
    }
    try {
      conn.writeFrame(req.setRequestId(lastRequestId.incrementAndGet()).build());
    } catch (VineyardException e) {
      LOG.warn("could not send {}: {}", what(req), e.getMessage());
    }
  }

  // ---------------------------------------------------------------- plumbing

  /** The frame source of the demultiplexer: runs on whichever thread reads replies now. */
  private Response nextResponse(boolean wait) {
    ByteBuffer frame = wait ? conn.pollFrame(MAX_FRAME) : conn.bufferedFrame(MAX_FRAME);
    if (frame == null) {
      return null;
    }
    Response r;
    try {
      r = Protos.parseResponse(frame);
    } catch (InvalidProtocolBufferException e) {
      conn.close();
      throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "malformed response from the daemon", e);
    }
    // The descriptors for this frame's regions came just before it: take them now, whoever the
    // response is for (even an abandoned request), since the daemon sends each one only once.
    for (Region region : r.getNewRegionsList()) {
      int fd = conn.takeFd();
      synchronized (regionLock) {
        if (closed) {
          io.vineyard.internal.Libc.closeQuietly(fd);
          continue;
        }
        SharedRegion fresh = new SharedRegion(region.getId(), region.getSize(), fd, region.getWritable());
        SharedRegion old = (region.getWritable() ? writableRegions : regions).put(region.getId(), fresh);
        if (old != null) {
          old.close();
        }
      }
    }
    return r;
  }

  /** Called holding the region lock. */
  private SharedRegion regionFor(BlobLocation loc, boolean writable) {
    SharedRegion region = (writable ? writableRegions : regions).get(loc.getRegion());
    if (region == null) {
      throw new VineyardException(
          ErrorCode.PROTOCOL_ERROR,
          "daemon referred to region " + loc.getRegion() + " it never sent " + (writable ? "writable" : "read-only"));
    }
    return region;
  }

  /** Blobs' bytes live in shared memory, which a metadata-only client cannot map. */
  private void requireSharedMemory() {
    if (!conn.passesDescriptors()) {
      throw new VineyardException(
          ErrorCode.ILLEGAL_STATE,
          "this client was opened for metadata only (IpcClient.Builder.metadataOnly()): it cannot create or read"
              + " blobs; open one without that option");
    }
  }

  private void checkOpen() {
    if (closed) {
      throw closedError();
    }
  }

  private VineyardException closedError() {
    return new VineyardException(ErrorCode.UNAVAILABLE, "client is closed");
  }

  private static String what(Request.Builder req) {
    return req.getBodyCase().name().toLowerCase(Locale.ROOT);
  }

  private Response call(Request.Builder request) {
    return call(request, timeout, null);
  }

  private Response call(Request.Builder request, Consumer<Response> onAbandoned) {
    return call(request, timeout, onAbandoned);
  }

  /**
   * Sends a request and waits for its answer, at most {@code wait}.
   *
   * @param onAbandoned given the reply if it arrives after the call gave up (to release what it holds)
   */
  private Response call(Request.Builder request, Duration wait, Consumer<Response> onAbandoned) {
    checkOpen();
    long deadline = System.nanoTime() + wait.toNanos();
    long rid = lastRequestId.incrementAndGet();
    ReplyDemux.Pending p = demux.register(rid, what(request), deferred(onAbandoned), null);
    send(p, request.setRequestId(rid).build());
    Response r = demux.await(p, deadline, wait);
    if (r.hasError()) {
      throw Protos.fromProto(r.getError());
    }
    return r;
  }

  /**
   * Sends an asynchronous request; the future completes on the client's executor with {@code
   * convert} of the reply. A value converted after the future was cancelled goes to {@code discard}.
   */
  private <T> CompletableFuture<T> callAsync(
      Request.Builder request, Consumer<Response> onAbandoned, Function<Response, T> convert, Consumer<T> discard) {
    ClientFuture<T> out = new ClientFuture<>(this::runCallback, demux::isReaderThread);
    if (closed) {
      out.completeExceptionally(closedError());
      return out;
    }
    long rid = lastRequestId.incrementAndGet();
    Consumer<T> discardLater = discard == null ? null : v -> runCallback(() -> discard.accept(v));
    // Completed once, by whichever comes first: a thread joining the future (on its own thread, once
    // the reply is in), or the completion drainer on the executor. Never where the reply was read:
    // a relay the JDK attaches itself (allOf, anyOf, copy, other.thenCombine(out)) is pushed onto
    // the future without any method of ClientFuture's, and runs, with the caller's stages after it,
    // on the thread that completes the future.
    AtomicBoolean claimed = new AtomicBoolean();
    Consumer<ReplyDemux.Pending> completeOnce = done -> {
      if (claimed.compareAndSet(false, true)) {
        complete(done, out, convert, discardLater);
      }
    };
    // register may finish the request at once (the connection already failed): the hook gets it.
    ReplyDemux.Pending p =
        demux.register(rid, what(request), deferred(onAbandoned), done -> completions.add(() -> completeOnce.accept(done)));
    out.joinHook(() -> {
      demux.awaitAsync(p);
      if (p.isDone()) {
        completeOnce.accept(p);
      }
    });
    try {
      send(p, request.setRequestId(rid).build());
    } catch (VineyardException e) {
      return out; // p is failed, and out completes with it
    }
    demux.started(p, timeout);
    return out;
  }

  private static <T> void complete(
      ReplyDemux.Pending done, CompletableFuture<T> out, Function<Response, T> convert, Consumer<T> discard) {
    try {
      Response r = done.result();
      if (r.hasError()) {
        throw Protos.fromProto(r.getError());
      }
      T value = convert.apply(r);
      if (!out.complete(value) && discard != null) {
        discard.accept(value);
      }
    } catch (VineyardException e) {
      out.completeExceptionally(e);
    } catch (RuntimeException e) {
      out.completeExceptionally(new VineyardException(ErrorCode.INTERNAL, "completing a call failed: " + e, e));
    }
  }

  /** Writes a registered request; when that fails the request fails, and so does the connection. */
  private void send(ReplyDemux.Pending p, Request request) {
    try {
      conn.writeFrame(request);
    } catch (VineyardException e) {
      demux.failOne(p, e);
      if (conn.isClosed()) {
        demux.failAll(e);
      }
      throw e;
    }
  }

  /** Clean-up hooks run on the executor, so the thread reading replies never writes. */
  private Consumer<Response> deferred(Consumer<Response> hook) {
    return hook == null ? null : r -> runCallback(() -> hook.accept(r));
  }

  private void runCallback(Runnable task) {
    ExecutorService ex = callbacks();
    try {
      ex.execute(task);
    } catch (RejectedExecutionException e) {
      task.run(); // closing: the executor is gone, and so is every lock worth worrying about
    }
  }

  private ExecutorService callbacks() {
    ExecutorService ex = callbacks;
    if (ex == null) {
      synchronized (this) {
        ex = callbacks;
        if (ex == null) {
          ex = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("vineyard-callbacks-" + clientId + "-", 1).factory());
          callbacks = ex;
        }
      }
    }
    return ex;
  }

  /** Blob and writer handles still open (for diagnostics and leak checks). */
  public int openHandleCount() {
    return openBlobs.size() + openWriters.size();
  }

  /** Requests sent and not answered yet (abandoned ones included until their late reply comes). */
  public int requestsInFlight() {
    return demux.inFlight();
  }

  public boolean isClosed() {
    return closed;
  }

  /**
   * Closes the connection and every handle still open; safe from any thread, idempotent. Calls in
   * flight on other threads fail with {@link ErrorCode#UNAVAILABLE}.
   *
   * @throws VineyardException {@link ErrorCode#ILLEGAL_STATE} when handles were still open (a leak
   *     in the caller); everything is closed all the same
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    synchronized (regionLock) {
      closed = true;
    }
    demux.failAll(new VineyardException(ErrorCode.UNAVAILABLE, "the client was closed while this call was in flight"));
    // Wakes a thread blocked reading or writing, and waits for it to leave before freeing anything.
    conn.close();
    try {
      demux.joinBackground(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Blob> blobs = List.copyOf(openBlobs);
    List<BlobWriter> writers = List.copyOf(openWriters);
    openBlobs.clear();
    openWriters.clear();
    // Handles are invalidated holding no client lock (a writer's monitor may be held by a thread
    // whose seal just failed above).
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
    synchronized (regionLock) {
      if (arrowStillLive) {
        // Unmapping under live Arrow buffers would turn the caller's bug into a crash: keep the
        // mappings (the daemon has already dropped this client's pins).
        LOG.error("closing client {} with Arrow buffers still live; leaving its mappings in place", clientId);
      } else {
        regions.values().forEach(SharedRegion::close);
        writableRegions.values().forEach(SharedRegion::close);
      }
      regions.clear();
      writableRegions.clear();
    }
    completions.close();
    ExecutorService ex = callbacks;
    if (ex != null) {
      ex.shutdown(); // completions already queued still run
    }
    if (!leaked.isEmpty()) {
      throw new VineyardException(
          ErrorCode.ILLEGAL_STATE,
          "client closed with " + leaked.size() + " open handle(s): "
              + (leaked.size() <= 5 ? leaked : leaked.subList(0, 5) + " and " + (leaked.size() - 5) + " more"));
    }
  }
}
