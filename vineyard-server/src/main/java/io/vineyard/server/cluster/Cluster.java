package io.vineyard.server.cluster;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.RpcClient;
import io.vineyard.internal.Protos;
import io.vineyard.proto.ipc.ListEntry;
import io.vineyard.proto.ipc.ListResponse;
import io.vineyard.proto.ipc.Placement;
import io.vineyard.server.memory.SharedMemory;
import io.vineyard.server.store.ObjectStore;
import io.vineyard.server.store.Session;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's part in the cluster: what it has persisted (published to the {@link
 * MetadataBackend}), the global objects it minted, names bound cluster-wide, lookups of objects
 * other instances persisted, where things live, and migration of remote objects into this daemon's
 * memory.
 *
 * <p>This daemon is the owner of what it publishes and keeps its own record of it, so a backend that
 * lost everything (an etcd restarted empty) is filled again from {@link #snapshot()}. The record is
 * guarded by a lock that is never held during I/O; calls that reach the backend or a peer block and
 * run on {@link #executor()}, never on an I/O event loop.
 *
 * <p>Inside, metadata trees and instance records are the domain types ({@link ObjectMeta}, {@link
 * InstanceInfo}), as the backend takes them. The methods the IPC handler and the gRPC service call
 * still take and return their protobuf messages ({@code io.vineyard.proto.ipc.*}): those convert
 * with {@link Protos} at this boundary.
 */
public final class Cluster implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);

  private final MetadataBackend backend;
  private final InstanceInfo template;
  private volatile ObjectStore store;
  private volatile SharedMemory shm;
  private volatile String rpcEndpoint = "";

  /** Expanded trees this daemon published: its persisted objects and the global objects it minted. */
  private final Map<Long, ObjectMeta> published = new LinkedHashMap<>();
  /** Global objects minted here (also in {@link #published}). */
  private final Set<Long> globals = new HashSet<>();
  /** Cluster-wide names this daemon bound. */
  private final Map<String, Long> publishedNames = new TreeMap<>();
  /** Remote object (or blob) id to the local replica made by a migration. */
  private final Map<Long, Long> replicas = new HashMap<>();
  /** Removals that could not reach the backend yet; retried in the background. */
  private final Set<Long> pendingUnpublish = new LinkedHashSet<>();
  /** Names to drop from the backend, each only while still bound to that id (another may rebind it). */
  private final Map<String, Long> pendingNameDrops = new LinkedHashMap<>();

  private final Map<String, RpcClient> peers = new ConcurrentHashMap<>();
  /** Migrations in progress, by the id of the object being copied. */
  private final Map<Long, CompletableFuture<Migrated>> migrations = new ConcurrentHashMap<>();
  private final ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("cluster-", 0).factory());
  private final ScheduledExecutorService retry =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("cluster-retry").daemon().factory());

  /**
   * @param template this daemon's instance record; its id, gRPC endpoint and memory figures are
   *     filled in by {@link #selfInfo()} (host, socket, start time and version are taken as given)
   */
  public Cluster(MetadataBackend backend, InstanceInfo template) {
    this.backend = backend;
    this.template = template;
    retry.scheduleWithFixedDelay(this::withdrawPending, 1, 1, TimeUnit.SECONDS);
  }

  /** Registers with the backend; returns the instance id to build the store with. */
  public long register(long requestedId) {
    return backend.register(requestedId, new MetadataBackend.Registrant() {
      @Override
      public InstanceInfo self() {
        return selfInfo();
      }

      @Override
      public MetadataBackend.Snapshot snapshot() {
        return Cluster.this.snapshot();
      }
    });
  }

  /** Completes the start: the store and memory the cluster serves from. */
  public void attach(ObjectStore store, SharedMemory shm) {
    this.store = store;
    this.shm = shm;
  }

  /** The advertised gRPC endpoint ({@code host:port}), published with the instance record. */
  public void setRpcEndpoint(String endpoint) {
    this.rpcEndpoint = endpoint;
  }

  /** Where blocking cluster work runs. */
  public ExecutorService executor() {
    return executor;
  }

  public MetadataBackend backend() {
    return backend;
  }

  /** The store, once the daemon has started. */
  public ObjectStore store() {
    ObjectStore s = store;
    if (s == null) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "vineyardd is still starting");
    }
    return s;
  }

  // ---------------------------------------------------------------- registration

  /** The daemon's read-write mapping of its shared memory. */
  public MemorySegment memory() {
    store();
    return shm.mapping();
  }

  /** This daemon's own objects whose typename matches the glob, as a listing reply. */
  public ListResponse listLocal(String typenameGlob, int limit) {
    ObjectStore.Listing listing = store().list(typenameGlob, limit);
    ListResponse.Builder b = ListResponse.newBuilder().setTruncated(listing.truncated());
    for (ObjectStore.Listed e : listing.entries()) {
      b.addEntries(ListEntry.newBuilder().setMeta(e.meta()).addAllNames(e.names()));
    }
    return b.build();
  }

  /** This daemon's instance record, with current memory figures. */
  public InstanceInfo selfInfo() {
    InstanceInfo t = template;
    ObjectStore s = store;
    return s == null
        ? new InstanceInfo(t.id(), t.hostname(), t.ipcSocket(), rpcEndpoint, t.usedBytes(), t.capacityBytes(), t.startedAt(), t.daemonVersion())
        : new InstanceInfo(s.instanceId(), t.hostname(), t.ipcSocket(), rpcEndpoint, s.usedBytes(), s.capacity(), t.startedAt(), t.daemonVersion());
  }

  /** What this daemon has published, to publish again after the backend lost it. */
  MetadataBackend.Snapshot snapshot() {
    synchronized (this) {
      Map<String, ObjectId> names = new TreeMap<>();
      publishedNames.forEach((n, id) -> names.put(n, new ObjectId(id)));
      return new MetadataBackend.Snapshot(selfInfo(), List.copyOf(published.values()), names);
    }
  }

  // ---------------------------------------------------------------- persist and global objects

  /**
   * Publishes a local object and every object under it, with the names bound to them. Persisting an
   * object that is persisted already (here or by another instance) does nothing.
   */
  public void persist(long id) {
    ObjectStore s = store();
    if (!s.exists(id)) {
      synchronized (this) {
        if (published.containsKey(id)) {
          return;
        }
      }
      if (backend.lookup(new ObjectId(id)).isPresent()) {
        return;
      }
      throw new VineyardException(ErrorCode.NOT_FOUND, "object " + new ObjectId(id) + " does not exist");
    }
    ObjectMeta tree = Protos.fromProto(s.getMeta(id));
    Map<Long, ObjectMeta> nodes = new LinkedHashMap<>();
    collectPublishable(tree, nodes, true);
    Map<String, Long> names = new TreeMap<>();
    for (long nid : nodes.keySet()) {
      s.namesOf(nid).forEach(n -> names.put(n, nid));
    }
    List<ObjectMeta> fresh;
    synchronized (this) {
      fresh = nodes.values().stream().filter(m -> !published.containsKey(m.id().value())).toList();
      if (fresh.isEmpty() && publishedNames.keySet().containsAll(names.keySet())) {
        return;
      }
      // Recorded first: whatever reaches the backend is then withdrawn by a later delete.
      fresh.forEach(m -> published.put(m.id().value(), m));
      publishedNames.putAll(names);
    }
    try {
      backend.publish(fresh);
      for (Map.Entry<String, Long> n : names.entrySet()) {
        backend.putName(n.getKey(), new ObjectId(n.getValue()));
      }
    } catch (RuntimeException e) {
      // Part of it may have reached the backend: take it all back, now or in the background.
      synchronized (this) {
        for (ObjectMeta m : fresh) {
          published.remove(m.id().value());
          pendingUnpublish.add(m.id().value());
        }
        names.forEach((n, nid) -> {
          if (publishedNames.remove(n, nid)) {
            pendingNameDrops.put(n, nid);
          }
        });
      }
      throw e;
    }
    // A delete that raced with this persist must not leave the object published.
    List<Long> gone = nodes.keySet().stream().filter(n -> !s.exists(n)).toList();
    if (!gone.isEmpty() && afterDelete(gone)) {
      withdrawPending();
    }
    LOG.debug("persisted {} ({} objects)", new ObjectId(id), fresh.size());
  }

  /** Every non-blob object of the tree (and the root even if it is a blob), by id. */
  private static void collectPublishable(ObjectMeta m, Map<Long, ObjectMeta> out, boolean root) {
    if (root || !m.isBlob()) {
      out.putIfAbsent(m.id().value(), m);
    }
    for (ObjectMeta member : m.members().values()) {
      collectPublishable(member, out, false);
    }
  }

  /**
   * Stores a global object: its members are persisted objects of any instance, named by id. The
   * global object is minted here and persisted at once.
   */
  public long putGlobal(io.vineyard.proto.ipc.ObjectMeta request) {
    ObjectStore s = store();
    if (request.getTypename().isBlank()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an object needs a typename");
    }
    if (request.getMembersCount() == 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a global object needs at least one member");
    }
    ObjectMeta meta = Protos.fromProto(request);
    Map<String, ObjectMeta> members = new TreeMap<>();
    long nbytes = 0;
    for (Map.Entry<String, ObjectMeta> e : meta.members().entrySet()) {
      long mid = e.getValue().id().value();
      ObjectMeta member = persistedTree(mid);
      if (member == null) {
        String why = s.exists(mid) ? "is not persisted; persist it first" : "does not exist on any instance";
        throw new VineyardException(
            s.exists(mid) ? ErrorCode.INVALID_ARGUMENT : ErrorCode.NOT_FOUND,
            "member '" + e.getKey() + "' (" + new ObjectId(mid) + ") " + why);
      }
      members.put(e.getKey(), member);
      nbytes += member.nbytes();
    }
    long id = s.mintObjectId();
    ObjectMeta global = ObjectMeta.of(
        new ObjectId(id), meta.typename(), meta.nbytes() == 0 ? nbytes : meta.nbytes(), s.instanceId(), true, meta.fields(), members);
    backend.publish(List.of(global));
    synchronized (this) {
      published.put(id, global);
      globals.add(id);
    }
    return id;
  }

  /** The expanded tree of a persisted object (published here or by another instance), else null. */
  private ObjectMeta persistedTree(long id) {
    synchronized (this) {
      ObjectMeta m = published.get(id);
      if (m != null) {
        return m;
      }
    }
    if (store().exists(id)) {
      return null; // local and not persisted
    }
    return backend.lookup(new ObjectId(id)).orElse(null);
  }

  // ---------------------------------------------------------------- lookups

  /** Whether the id is a global object minted here (not in the store's table). */
  public synchronized boolean isLocalGlobal(long id) {
    return globals.contains(id);
  }

  /** Metadata of an object not in this daemon's table: a global object of ours, or one persisted elsewhere. */
  public io.vineyard.proto.ipc.ObjectMeta getRemoteMeta(long id) {
    return Protos.toProto(remoteTree(id));
  }

  private ObjectMeta remoteTree(long id) {
    synchronized (this) {
      if (globals.contains(id)) {
        return published.get(id);
      }
    }
    return backend.lookup(new ObjectId(id)).orElseThrow(() -> notFound(id));
  }

  /** Metadata from this daemon's table, else from the cluster. */
  public io.vineyard.proto.ipc.ObjectMeta getMeta(long id) {
    ObjectStore s = store();
    try {
      return s.getMeta(id);
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        throw e;
      }
    }
    return getRemoteMeta(id);
  }

  /** {@link #getMeta} as the domain type. */
  private ObjectMeta tree(long id) {
    ObjectStore s = store();
    try {
      return Protos.fromProto(s.getMeta(id));
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        throw e;
      }
    }
    return remoteTree(id);
  }

  /** A name bound cluster-wide (the store's own names are looked up first by the caller). */
  public long getRemoteName(String name) {
    Optional<ObjectId> id = backend.getName(name);
    if (id.isEmpty()) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + name + "'");
    }
    return id.get().value();
  }

  /** A name bound on this daemon, else cluster-wide. */
  public long getName(String name) {
    try {
      return store().getName(name);
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        throw e;
      }
    }
    return getRemoteName(name);
  }

  /** Whether binding {@code name} to {@code id} involves the backend (a persisted or remote object). */
  public boolean nameNeedsCluster(long id) {
    synchronized (this) {
      if (published.containsKey(id)) {
        return true;
      }
    }
    return !store().exists(id);
  }

  /** Whether dropping {@code name} involves the backend. */
  public synchronized boolean nameIsPublished(String name) {
    return publishedNames.containsKey(name);
  }

  /**
   * Binds a name to a persisted object (of this daemon or another), cluster-wide, and on this
   * daemon too when the object is local.
   */
  public void putClusterName(String name, long id) {
    if (name == null || name.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a name must not be empty");
    }
    ObjectStore s = store();
    boolean local = s.exists(id);
    if (persistedTree(id) == null) {
      throw local
          ? new VineyardException(ErrorCode.INTERNAL, "object " + new ObjectId(id) + " is local and not persisted")
          : notFound(id);
    }
    backend.putName(name, new ObjectId(id));
    synchronized (this) {
      publishedNames.put(name, id);
    }
    if (local) {
      s.putName(name, id);
    } else {
      dropLocalName(name);
    }
  }

  /** Drops a name here and cluster-wide. */
  public void dropClusterName(String name) {
    boolean remote = backend.dropName(name);
    synchronized (this) {
      publishedNames.remove(name);
    }
    boolean local = dropLocalName(name);
    if (!local && !remote) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + name + "'");
    }
  }

  private boolean dropLocalName(String name) {
    try {
      store().dropName(name);
      return true;
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        throw e;
      }
      return false;
    }
  }

  /** Persisted objects of every instance whose typename matches the glob. */
  public ListResponse listGlobal(String typenameGlob, int limit, int defaultLimit) {
    Pattern p = typenameGlob == null || typenameGlob.isEmpty() ? null : ObjectStore.globToRegex(typenameGlob);
    MetadataBackend.Page page =
        backend.list(t -> p == null || p.matcher(t).matches(), limit <= 0 ? defaultLimit : limit);
    ListResponse.Builder b = ListResponse.newBuilder().setTruncated(page.truncated());
    Map<ObjectId, List<String>> names = page.names();
    for (ObjectMeta m : page.objects()) {
      Map<String, ObjectMeta> byId = new TreeMap<>();
      m.members().forEach((k, v) -> byId.put(k, ObjectMeta.reference(v.id())));
      ObjectMeta shallow = ObjectMeta.of(m.id(), m.typename(), m.nbytes(), m.instanceId(), m.isGlobal(), m.fields(), byId);
      b.addEntries(ListEntry.newBuilder().setMeta(Protos.toProto(shallow))
          .addAllNames(names.getOrDefault(m.id(), List.of()).stream().sorted().toList()));
    }
    return b.build();
  }

  /** The registered instances. */
  public List<io.vineyard.proto.ipc.InstanceInfo> instances() {
    return backend.instances().stream().map(Protos::toProto).toList();
  }

  /** Where the object, each member and each blob under it lives. */
  public List<Placement> locate(long id) {
    ObjectMeta tree = tree(id);
    Map<Long, InstanceInfo> byId = new HashMap<>();
    for (InstanceInfo i : backend.instances()) {
      byId.put(i.id(), i);
    }
    List<Placement> out = new ArrayList<>();
    place(tree, "", byId, out);
    return out;
  }

  private static void place(ObjectMeta m, String path, Map<Long, InstanceInfo> instances, List<Placement> out) {
    InstanceInfo at = instances.get(m.instanceId());
    Placement.Builder p =
        Placement.newBuilder()
            .setPath(path)
            .setId(m.id().value())
            .setTypename(m.typename())
            .setNbytes(m.nbytes())
            .setInstanceId(m.instanceId());
    if (at != null) {
      p.setHostname(at.hostname()).setRpcEndpoint(at.rpcEndpoint());
    }
    out.add(p.build());
    m.members()
        .forEach((name, member) -> place(member, path.isEmpty() ? name : path + "/" + name, instances, out));
  }

  // ---------------------------------------------------------------- deletes

  /**
   * Called after objects were deleted from this daemon (or global objects dropped): queues what of
   * them was published for withdrawal, which {@link #withdrawPending} does (and the background
   * retries, while the backend is unreachable).
   *
   * @return whether anything was published, so that the caller can withdraw it before answering
   */
  public boolean afterDelete(List<Long> ids) {
    List<Long> objects = new ArrayList<>();
    Map<String, Long> names = new LinkedHashMap<>();
    synchronized (this) {
      for (long id : ids) {
        if (published.remove(id) != null) {
          objects.add(id);
        }
        globals.remove(id);
      }
      Set<Long> gone = new HashSet<>(ids);
      publishedNames.entrySet().removeIf(e -> {
        if (gone.contains(e.getValue())) {
          names.put(e.getKey(), e.getValue());
          return true;
        }
        return false;
      });
      replicas.values().removeAll(gone);
      pendingUnpublish.addAll(objects);
      pendingNameDrops.putAll(names);
    }
    return !objects.isEmpty() || !names.isEmpty();
  }

  /** Global objects minted here among {@code ids} ({@link #afterDelete} drops them from the record). */
  public synchronized List<Long> globalsAmong(List<Long> ids) {
    List<Long> out = new ArrayList<>();
    for (long id : ids) {
      if (globals.contains(id)) {
        out.add(id);
      }
    }
    return out;
  }

  /**
   * Withdraws deleted objects and dropped names from the backend; what cannot be withdrawn now
   * (backend unreachable) stays queued for the background retry. Never throws.
   */
  public void withdrawPending() {
    List<Long> objects;
    Map<String, Long> names;
    synchronized (this) {
      if (pendingUnpublish.isEmpty() && pendingNameDrops.isEmpty()) {
        return;
      }
      objects = List.copyOf(pendingUnpublish);
      names = Map.copyOf(pendingNameDrops);
    }
    if (!backend.available()) {
      return;
    }
    try {
      backend.unpublish(objects.stream().map(ObjectId::new).toList());
      for (Map.Entry<String, Long> n : names.entrySet()) {
        backend.dropName(n.getKey(), new ObjectId(n.getValue()));
      }
      synchronized (this) {
        objects.forEach(pendingUnpublish::remove);
        names.forEach(pendingNameDrops::remove);
      }
    } catch (VineyardException e) {
      LOG.debug("withdrawing deleted objects from {} failed, will retry: {}", backend.describe(), e.getMessage());
    } catch (RuntimeException e) {
      LOG.warn("withdrawing deleted objects from {} failed, will retry", backend.describe(), e);
    }
  }

  // ---------------------------------------------------------------- migration

  /** The outcome of a migration: the local object and how many bytes crossed the network. */
  public record Migrated(long id, long bytesCopied) {}

  /**
   * Makes an object local: pulls the blobs this daemon does not hold from their owners' gRPC ports
   * and registers a replica with the same structure. Already local: returned as it is.
   */
  public Migrated migrate(long id) {
    ObjectStore s = store();
    if (s.exists(id)) {
      return new Migrated(id, 0);
    }
    // Clients asking for the same object at once share one copy.
    CompletableFuture<Migrated> mine = new CompletableFuture<>();
    CompletableFuture<Migrated> running = migrations.putIfAbsent(id, mine);
    if (running != null) {
      try {
        Migrated m = running.join();
        return new Migrated(m.id(), 0);
      } catch (CompletionException e) {
        throw e.getCause() instanceof RuntimeException r ? r : e;
      }
    }
    try {
      Migrated m = copy(id, s);
      mine.complete(m);
      return m;
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      migrations.remove(id);
    }
  }

  private Migrated copy(long id, ObjectStore s) {
    ObjectMeta tree;
    try {
      tree = remoteTree(id);
    } catch (VineyardException e) {
      if (e.code() == ErrorCode.NOT_FOUND) {
        forgetReplica(id); // the source is gone: its old replica is an ordinary local object now
      }
      throw e;
    }
    Long known = replicaOf(id);
    if (known != null) {
      return new Migrated(known, 0);
    }
    if (tree.isGlobal()) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "object " + new ObjectId(id) + " is global: its members stay where they are; migrate the members you need"
              + " (vineyardctl locate shows where they live)");
    }
    long started = System.nanoTime();
    Session session = s.openSession("migration of " + new ObjectId(id));
    List<Long> made = new ArrayList<>();
    try {
      Map<Long, Long> mapped = new HashMap<>();
      long[] copied = {0};
      Map<Long, InstanceInfo> owners = new HashMap<>();
      long root = replicate(tree, s, session, mapped, made, owners, copied);
      synchronized (this) {
        replicas.put(id, root);
        mapped.forEach((from, to) -> {
          if (!from.equals(to)) {
            replicas.put(from, to);
          }
        });
      }
      double secs = (System.nanoTime() - started) / 1e9;
      LOG.info("migrated {} to {}: {} copied in {} s ({} MB/s)", new ObjectId(id), new ObjectId(root),
          MemorySize.format(copied[0]), String.format("%.3f", secs), Math.round(copied[0] / secs / 1e6));
      return new Migrated(root, copied[0]);
    } catch (RuntimeException e) {
      if (!made.isEmpty()) {
        try {
          s.delete(made.reversed(), true, false);
        } catch (RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
      }
      throw e;
    } finally {
      // Reclaims a blob left unsealed by a failed fetch.
      s.closeSession(session);
    }
  }

  private synchronized void forgetReplica(long id) {
    replicas.remove(id);
  }

  private synchronized Long replicaOf(long id) {
    Long local = replicas.get(id);
    if (local != null && !store().exists(local)) {
      replicas.remove(id);
      return null;
    }
    return local;
  }

  private long replicate(
      ObjectMeta m,
      ObjectStore s,
      Session session,
      Map<Long, Long> mapped,
      List<Long> made,
      Map<Long, InstanceInfo> owners,
      long[] copied) {
    long from = m.id().value();
    Long done = mapped.get(from);
    if (done != null) {
      return done;
    }
    long local;
    Long replica = replicaOf(from);
    if (s.exists(from)) {
      local = from;
    } else if (replica != null) {
      local = replica;
    } else if (m.isBlob()) {
      local = fetchBlob(m, s, session, owners);
      made.add(local);
      copied[0] += m.nbytes();
    } else {
      Map<String, ObjectMeta> members = new TreeMap<>();
      for (Map.Entry<String, ObjectMeta> e : m.members().entrySet()) {
        long member = replicate(e.getValue(), s, session, mapped, made, owners, copied);
        members.put(e.getKey(), ObjectMeta.reference(new ObjectId(member)));
      }
      // No id: the store mints one for the replica.
      local = s.putMeta(Protos.toProto(ObjectMeta.of(null, m.typename(), m.nbytes(), m.instanceId(), false, m.fields(), members)));
      made.add(local);
    }
    mapped.put(from, local);
    return local;
  }

  private long fetchBlob(ObjectMeta blob, ObjectStore s, Session session, Map<Long, InstanceInfo> owners) {
    long size = blob.nbytes();
    ObjectStore.Location loc = s.createBlob(session, size);
    if (size > 0) {
      InstanceInfo owner = owner(blob, owners);
      MemorySegment target = shm.mapping().asSlice(loc.offset(), size);
      try {
        peer(owner.rpcEndpoint()).fetchBlob(blob.id(), target);
      } catch (VineyardException e) {
        // What went wrong between two daemons is not the asking client's protocol error or bad argument.
        ErrorCode code = switch (e.code()) {
          case PROTOCOL_ERROR, INVALID_ARGUMENT, INTERNAL -> ErrorCode.IO_ERROR;
          default -> e.code();
        };
        throw new VineyardException(
            code,
            "cannot fetch blob " + blob.id() + " (" + MemorySize.format(size) + ") from instance "
                + owner.id() + " (" + owner.hostname() + ", " + owner.rpcEndpoint() + "): " + e.reason(),
            e);
      }
    }
    s.seal(session, loc.id(), false);
    return loc.id();
  }

  private InstanceInfo owner(ObjectMeta blob, Map<Long, InstanceInfo> owners) {
    if (owners.isEmpty()) {
      for (InstanceInfo i : backend.instances()) {
        owners.put(i.id(), i);
      }
    }
    InstanceInfo owner = owners.get(blob.instanceId());
    if (owner == null || owner.rpcEndpoint().isEmpty()) {
      throw new VineyardException(
          ErrorCode.UNAVAILABLE,
          "blob " + blob.id() + " lives on instance " + blob.instanceId() + ", which "
              + (owner == null ? "is not registered (any more)" : "serves no gRPC port"));
    }
    return owner;
  }

  private RpcClient peer(String endpoint) {
    return peers.computeIfAbsent(endpoint, RpcClient::connect);
  }

  private static VineyardException notFound(long id) {
    return new VineyardException(ErrorCode.NOT_FOUND, "object " + new ObjectId(id) + " does not exist");
  }

  @Override
  public void close() {
    retry.shutdownNow();
    executor.shutdownNow();
    try {
      // Migrations write into shared memory: let them stop before the daemon unmaps it.
      if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warn("cluster requests still running at shutdown");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    peers.values().forEach(RpcClient::close);
    peers.clear();
    backend.close();
  }
}
