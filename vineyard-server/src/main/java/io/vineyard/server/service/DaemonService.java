package io.vineyard.server.service;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.Listing;
import io.vineyard.server.cluster.Cluster;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.ObjectStore.DeleteResult;
import io.vineyard.server.store.ObjectStore.Location;
import io.vineyard.server.store.RequestLimits;
import io.vineyard.server.store.Session;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every operation of the daemon, whatever the transport: the UNIX-socket handler and the gRPC
 * service decode a request, call one method here and encode what it returns. Here, and only here,
 * is decided whether a request is answered from this daemon's object graph or needs the cluster
 * (the metadata backend or a peer), and whether it can be answered at once or must wait.
 *
 * <p>Methods that return a value answer at once and never block: they are safe on an I/O event
 * loop. Methods that return a {@link CompletableFuture} complete it at once when they can (the
 * common case) and otherwise do the waiting work (etcd, a peer, spill I/O) on the service's own
 * threads and complete it there; they never block the caller either. Failures are always a {@link
 * VineyardException}, thrown or as the future's cause.
 */
public final class DaemonService implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(DaemonService.class);

  private final ObjectStore store;
  private final MemoryArena arena;
  private final Cluster cluster;
  private final String version;
  private final ExecutorService blocking =
      Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("vineyardd-work-", 0).factory());

  private final int defaultListLimit;
  private final RequestLimits limits;
  private final int maxReply;

  /** Listings with a pattern over more objects than this are matched off the event loop. */
  static final int LIST_ON_LOOP = 4096;

  /**
   * Matching a listing may cost an event loop ({@link ObjectStore#list(String, int, boolean, long)}'s
   * units: about a millisecond); more, and it goes off the loop. 4,000 distinct typenames of 4 KiB
   * under a 1,024-character pattern took half a second on the loop, and a pipeline of such listings
   * stalled every connection of that loop.
   */
  static final long MATCH_ON_LOOP = 256 * 1024;

  /**
   * @param defaultListLimit objects a listing returns when the request sets no limit
   */
  public DaemonService(ObjectStore store, Cluster cluster, String version, int defaultListLimit) {
    this(store, cluster, version, defaultListLimit, DEFAULT_MAX_REPLY);
  }

  /** The default of {@link #maxReply}: the daemon's default frame limit. */
  public static final int DEFAULT_MAX_REPLY = 64 << 20;

  /**
   * @param defaultListLimit objects a listing returns when the request sets no limit
   * @param maxReply bytes an answer may take (the frame limit): a listing is cut to fit, any other
   *     answer that would be larger is an error
   */
  public DaemonService(ObjectStore store, Cluster cluster, String version, int defaultListLimit, int maxReply) {
    this.store = store;
    this.limits = store.limits();
    this.maxReply = maxReply;
    this.defaultListLimit = defaultListLimit;
    this.arena = store.arena();
    this.cluster = cluster;
    this.version = version;
  }

  public long instanceId() {
    return store.instanceId();
  }

  public String version() {
    return version;
  }

  /** What one request may cost. */
  public RequestLimits limits() {
    return limits;
  }

  /** Bytes an answer may take: a listing is cut to fit ({@code Protos.toProto(Listing, long)}), anything else larger is refused. */
  public int maxReply() {
    return maxReply;
  }

  /**
   * The error that replaces an answer of {@code size} bytes, over {@link #maxReply}: the request
   * asked for more than one answer may carry.
   */
  public VineyardException replyTooLarge(String what, long size) {
    return new VineyardException(
        ErrorCode.INVALID_ARGUMENT,
        "the answer to this " + what + " would take " + size + " bytes, more than the " + maxReply
            + " an answer may take (--max-frame); ask for less (a --limit or a --typename pattern for a listing)");
  }

  /** The memory blobs live in: a transport asks it for a region's descriptor to pass on. */
  public MemoryArena arena() {
    return arena;
  }

  // ---------------------------------------------------------------- sessions

  /** A client's session: what it pins and what it is writing. */
  public Session openSession(String clientName) {
    return store.openSession(clientName);
  }

  /** A session of a client isolated in its own trust domain (its user's regions: see {@code MemoryArena}). */
  public Session openSession(String clientName, int domain) {
    return store.openSession(clientName, domain);
  }

  /** Drops the session's pins and reclaims what it left unsealed. */
  public void closeSession(Session s) {
    store.closeSession(s);
  }

  // ---------------------------------------------------------------- blobs

  /** One blob of a batch create: its size, and its bytes when it is created sealed. */
  public record BlobSpec(long size, ByteBuffer sealedData) {}

  /** Creates an unsealed blob for the session to fill; waits for spilling when memory is short. */
  public CompletableFuture<Location> createBlob(Session s, long size) {
    return now(() -> store.tryCreateBlob(s, size)).thenCompose(l -> l != null ? CompletableFuture.completedFuture(l) : offLoop(() -> {
      return store.createBlob(s, size); // spills to the lower mark itself
    }));
  }

  /** Creates a blob holding {@code data} and seals it. */
  public CompletableFuture<Location> putBlob(Session s, ByteBuffer data) {
    return createBlobs(s, List.of(new BlobSpec(data.remaining(), data))).thenApply(List::getFirst);
  }

  /**
   * Creates several blobs, all or none; those with data are filled and sealed. The data buffers
   * are read before the returned future completes, and not after.
   */
  public CompletableFuture<List<Location>> createBlobs(Session s, List<BlobSpec> specs) {
    try {
      limits.checkIds(specs.size(), "create_blobs");
    } catch (VineyardException e) {
      return CompletableFuture.failedFuture(e);
    }
    for (BlobSpec spec : specs) {
      if (spec.sealedData() != null && spec.sealedData().remaining() != spec.size()) {
        return CompletableFuture.failedFuture(new VineyardException(
            ErrorCode.INVALID_ARGUMENT,
            "blob of " + spec.size() + " bytes sent with " + spec.sealedData().remaining() + " bytes of data"));
      }
    }
    return now(() -> createAll(s, specs, false))
        .thenCompose(l -> l != null ? CompletableFuture.completedFuture(l) : offLoop(() -> createAll(s, specs, true)));
  }

  /** Creates every blob or none; without {@code mayBlock} returns null (creating none) when one needs spilling. */
  private List<Location> createAll(Session s, List<BlobSpec> specs, boolean mayBlock) {
    List<Location> made = new ArrayList<>(specs.size());
    try {
      for (BlobSpec spec : specs) {
        // A blob sealed from the bytes sent is written by the daemon: it goes to the shared regions,
        // which no client writes; one filled in place goes to the client's own domain.
        int domain = spec.sealedData() != null ? MemoryArena.SHARED : s.domain();
        Location l = mayBlock ? store.createBlob(s, spec.size(), domain) : store.tryCreateBlob(s, spec.size(), domain);
        if (l == null) {
          discard(s, made);
          return null;
        }
        made.add(l);
        if (spec.sealedData() != null) {
          if (spec.size() > 0) {
            arena.bytes(l.range()).copyFrom(MemorySegment.ofBuffer(spec.sealedData().duplicate()));
          }
          store.seal(s, l.id(), false);
        }
      }
    } catch (RuntimeException e) {
      discard(s, made);
      throw e;
    }
    return made;
  }

  /** Aborts the unsealed blobs of {@code made} and deletes the sealed ones: a create undone. */
  public void discard(Session s, List<Location> made) {
    for (Location l : made) {
      store.discard(s, l.id());
    }
  }

  public void seal(Session s, long id, boolean keepPinned) {
    store.seal(s, id, keepPinned);
  }

  public void sealAll(Session s, List<Long> ids, boolean keepPinned) {
    limits.checkIds(ids.size(), "seal_blobs");
    store.sealAll(s, ids, keepPinned);
  }

  public void abort(Session s, long id) {
    store.abort(s, id);
  }

  /** Pins sealed blobs for the session, all or none; waits while spilled ones are loaded back. */
  public CompletableFuture<List<Location>> getBlobs(Session s, List<Long> ids) {
    try {
      limits.checkIds(ids.size(), "get_blobs");
    } catch (VineyardException e) {
      return CompletableFuture.failedFuture(e);
    }
    return now(() -> store.tryGetBlobs(s, ids))
        .thenCompose(l -> l != null ? CompletableFuture.completedFuture(l) : offLoop(() -> store.getBlobs(s, ids)));
  }

  public void release(Session s, List<Long> ids) {
    store.release(s, ids);
  }

  /** A sealed blob pinned for reading by a transport (a gRPC fetch) until closed. */
  public final class BlobRead implements AutoCloseable {
    private final Session session;
    private final MemorySegment bytes;
    private boolean closed;

    private BlobRead(Session session, MemorySegment bytes) {
      this.session = session;
      this.bytes = bytes;
    }

    /** The blob's bytes, valid until {@link #close}. */
    public MemorySegment bytes() {
      return bytes;
    }

    @Override
    public synchronized void close() {
      if (!closed) {
        closed = true;
        store.closeSession(session);
      }
    }
  }

  /** Pins a sealed blob (loading it back if spilled) for a transport that streams its bytes. */
  public CompletableFuture<BlobRead> readBlob(long id, String reader) {
    if (!ObjectId.isBlobId(id)) {
      return CompletableFuture.failedFuture(
          new VineyardException(ErrorCode.INVALID_ARGUMENT, new ObjectId(id) + " is not a blob id"));
    }
    Session session = store.openSession(reader);
    return getBlobs(session, List.of(id)).handle((locs, e) -> {
      if (e != null) {
        store.closeSession(session);
        throw e instanceof CompletionException ce ? ce : new CompletionException(e);
      }
      return new BlobRead(session, arena.bytes(locs.getFirst().range()));
    });
  }

  // ---------------------------------------------------------------- objects

  /** Whether the object or sealed blob exists in this daemon (global objects minted here included). */
  public boolean exists(long id) {
    return store.exists(id);
  }

  /** Stores an object; a global one (members on any instance) is persisted at once, which needs the cluster. */
  public CompletableFuture<ObjectId> putMeta(ObjectMeta meta) {
    if (meta.isGlobal()) {
      if (meta.members().isEmpty()) {
        return CompletableFuture.failedFuture(
            new VineyardException(ErrorCode.INVALID_ARGUMENT, "a global object needs at least one member"));
      }
      return offLoop(() -> new ObjectId(cluster.putGlobal(meta)));
    }
    return now(() -> new ObjectId(store.putMeta(meta)));
  }

  /** An object's full tree: from this daemon, else (not minted here, or a global object of ours) from the cluster. */
  public CompletableFuture<ObjectMeta> getMeta(long id) {
    try {
      return CompletableFuture.completedFuture(store.getMeta(id));
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND || mintedHere(id)) {
        return CompletableFuture.failedFuture(e); // an id of this instance that is gone: no need to ask
      }
    }
    return offLoop(() -> cluster.getRemoteMeta(id));
  }

  private boolean mintedHere(long id) {
    return new ObjectId(id).instanceId() == store.instanceId();
  }

  /** This daemon's objects, or with {@code global} the persisted objects of every instance. */
  public CompletableFuture<Listing> list(String typenamePattern, int limit, boolean global) {
    return list(typenamePattern, limit, global, false);
  }

  /** As above; with {@code topLevel} (local listings only), members of other objects are left out. */
  public CompletableFuture<Listing> list(String typenamePattern, int limit, boolean global, boolean topLevel) {
    if (global) {
      return offLoop(() -> cluster.listGlobal(typenamePattern, limit <= 0 ? defaultListLimit : limit));
    }
    if (typenamePattern == null || typenamePattern.isEmpty()) {
      return now(() -> store.list(typenamePattern, limit, topLevel));
    }
    if (store.listableCount() <= LIST_ON_LOOP) {
      // Few objects: matched here, unless their typenames (distinct and long) would take a while.
      Listing quick;
      try {
        quick = store.list(typenamePattern, limit, topLevel, MATCH_ON_LOOP);
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(asVineyard(e));
      }
      if (quick != null) {
        return CompletableFuture.completedFuture(quick);
      }
    }
    // Matching many typenames takes a while (outside the store's lock): not on an event loop.
    return offLoop(() -> store.list(typenamePattern, limit, topLevel));
  }

  /**
   * Deletes objects of this daemon; when some were published, withdraws them from the cluster
   * before completing, so that no instance sees them afterwards.
   */
  public CompletableFuture<DeleteResult> delete(List<Long> ids, boolean force, boolean deep) {
    DeleteResult r;
    try {
      limits.checkIds(ids.size(), "delete");
      r = store.delete(ids, force, deep);
    } catch (VineyardException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (!cluster.afterDelete(r.deleted())) {
      return CompletableFuture.completedFuture(r);
    }
    return offLoop(() -> {
      cluster.withdrawPending();
      return r;
    });
  }

  // ---------------------------------------------------------------- names

  /** Binds a name here, or cluster-wide when the object is persisted or lives elsewhere. */
  public CompletableFuture<Void> putName(String name, long id) {
    if (cluster.nameNeedsCluster(id)) {
      return offLoop(() -> {
        cluster.putClusterName(name, id);
        return null;
      });
    }
    return now(() -> {
      store.putName(name, id);
      return null;
    });
  }

  /**
   * A name bound here, else cluster-wide. A cluster-wide name of an object that this daemon has
   * migrated resolves to the local replica, which is what reading or deleting it here needs.
   */
  public CompletableFuture<ObjectId> getName(String name) {
    try {
      return CompletableFuture.completedFuture(new ObjectId(store.getName(name)));
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return offLoop(() -> {
      long id = cluster.getRemoteName(name);
      return new ObjectId(cluster.localReplica(id).orElse(id));
    });
  }

  /** Drops a name here, and cluster-wide when it was published (or is not bound here). */
  public CompletableFuture<Void> dropName(String name) {
    if (cluster.nameIsPublished(name) || !store.hasName(name)) {
      return offLoop(() -> {
        cluster.dropClusterName(name);
        return null;
      });
    }
    return now(() -> {
      store.dropName(name);
      return null;
    });
  }

  // ---------------------------------------------------------------- cluster

  public StoreStats stats() {
    return store.stats();
  }

  public CompletableFuture<Void> persist(long id) {
    return offLoop(() -> {
      cluster.persist(id);
      return null;
    });
  }

  public CompletableFuture<List<InstanceInfo>> instances() {
    return offLoop(cluster::instances);
  }

  public CompletableFuture<List<Placement>> locate(long id) {
    return offLoop(() -> cluster.locate(id));
  }

  /** The outcome of a migration: the local object and how many bytes crossed the network. */
  public record Migrated(ObjectId id, long bytesCopied) {}

  public CompletableFuture<Migrated> migrate(long id) {
    return offLoop(() -> {
      Cluster.Migrated m = cluster.migrate(id);
      return new Migrated(new ObjectId(m.id()), m.bytesCopied());
    });
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs quick, non-blocking work now; its failure becomes the future's. */
  private static <T> CompletableFuture<T> now(Supplier<T> work) {
    try {
      return CompletableFuture.completedFuture(work.get());
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(asVineyard(e));
    }
  }

  /** Runs work that may wait (etcd, a peer, spill I/O) on the service's threads. */
  private <T> CompletableFuture<T> offLoop(Supplier<T> work) {
    CompletableFuture<T> f = new CompletableFuture<>();
    try {
      blocking.execute(() -> {
        try {
          f.complete(work.get());
        } catch (Throwable e) {
          f.completeExceptionally(asVineyard(e));
        }
      });
    } catch (RejectedExecutionException e) {
      f.completeExceptionally(new VineyardException(ErrorCode.UNAVAILABLE, "vineyardd is shutting down"));
    }
    return f;
  }

  /**
   * The failure as a {@link VineyardException}: ours as they are, anything else (a bug) as {@link
   * ErrorCode#INTERNAL}, logged once here.
   */
  public static VineyardException asVineyard(Throwable e) {
    Throwable t = e;
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof VineyardException ve) {
      return ve;
    }
    LOG.error("request failed unexpectedly", t);
    return new VineyardException(ErrorCode.INTERNAL, t.toString(), t);
  }

  /** Stops taking waiting work and lets what runs (migrations write into shared memory) finish. */
  @Override
  public void close() {
    blocking.shutdown();
    try {
      if (!blocking.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warn("requests still running at shutdown; interrupting them");
        blocking.shutdownNow();
        blocking.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      blocking.shutdownNow();
    }
  }
}
