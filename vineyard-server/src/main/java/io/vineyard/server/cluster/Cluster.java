package io.vineyard.server.cluster;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.RpcClient;
import io.vineyard.Placement;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.store.Glob;
import io.vineyard.server.store.RequestLimits;
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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongFunction;
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
 * guarded by a lock that is never held during I/O; calls that reach the backend or a peer block, and
 * the {@link io.vineyard.server.service.DaemonService} runs them on its own threads, never on an I/O
 * event loop. Global objects minted here live in the {@link ObjectStore} like every other object;
 * this class publishes them. Everything here is in domain types; protobuf stays in the transports.
 */
public final class Cluster implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);

  private final MetadataBackend backend;
  private final InstanceInfo template;
  private final MemoryArena arena;
  private final String rpcEndpoint;
  /** Assigned by the registration, before {@link #store} is built; 0 until then. */
  private volatile long instanceId;
  private final ObjectStore store;

  /** Expanded trees this daemon published: its persisted objects and the global objects it minted. */
  private final Map<Long, ObjectMeta> published = new LinkedHashMap<>();
  /** Cluster-wide names this daemon bound. */
  private final Map<String, Long> publishedNames = new TreeMap<>();
  /** Remote object (or blob) id to the local replica made by a migration. */
  private final Map<Long, Long> replicas = new HashMap<>();
  /** Removals that could not reach the backend yet; retried in the background. */
  private final Set<Long> pendingUnpublish = new LinkedHashSet<>();
  /** Names to drop from the backend, each only while still bound to that id (another may rebind it). */
  private final Map<String, Long> pendingNameDrops = new LinkedHashMap<>();

  private final Map<String, RpcClient> peers = new ConcurrentHashMap<>();
  private final Function<String, RpcClient> peerClient;
  /** Persists in progress, by the id of the object being published. */
  private final Map<Long, CompletableFuture<Void>> persisting = new ConcurrentHashMap<>();
  /** Migrations in progress, by the id of the object being copied. */
  private final Map<Long, CompletableFuture<Migrated>> migrations = new ConcurrentHashMap<>();
  private final ScheduledExecutorService retry =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("cluster-retry").daemon().factory());

  /**
   * Registers this daemon with the backend and builds its store with the instance id it was given:
   * the store mints ids that embed it, so it cannot exist before. Until this returns the backend may
   * already ask for {@link #selfInfo()} (from the template and the arena) and for the snapshot (what
   * was published: nothing yet), which is all it needs.
   *
   * @param template this daemon's instance record; its id and memory figures are filled in by
   *     {@link #selfInfo()} (host, socket, start time and version are taken as given)
   * @param rpcEndpoint the advertised gRPC endpoint ({@code host:port}); the port is bound already
   * @param requestedId the instance id to claim, or -1 to let the backend allocate one
   * @param newStore builds the store for the instance id
   */
  public Cluster(
      MetadataBackend backend,
      InstanceInfo template,
      String rpcEndpoint,
      MemoryArena arena,
      long requestedId,
      LongFunction<ObjectStore> newStore) {
    this(backend, template, rpcEndpoint, arena, requestedId, newStore, RpcClient::connect);
  }

  /**
   * As above, with the clients of peers' gRPC ports (for migration) made by {@code peerClient}:
   * with this cluster's TLS settings and token.
   */
  public Cluster(
      MetadataBackend backend,
      InstanceInfo template,
      String rpcEndpoint,
      MemoryArena arena,
      long requestedId,
      LongFunction<ObjectStore> newStore,
      Function<String, RpcClient> peerClient) {
    this.peerClient = peerClient;
    this.backend = backend;
    this.template = template;
    this.rpcEndpoint = rpcEndpoint;
    this.arena = arena;
    this.instanceId = backend.register(requestedId, new MetadataBackend.Registrant() {
      @Override
      public InstanceInfo self() {
        return selfInfo();
      }

      @Override
      public MetadataBackend.Snapshot snapshot() {
        return Cluster.this.snapshot();
      }
    });
    this.store = newStore.apply(instanceId);
    retry.scheduleWithFixedDelay(this::withdrawPending, 1, 1, TimeUnit.SECONDS);
  }

  public MetadataBackend backend() {
    return backend;
  }

  public ObjectStore store() {
    return store;
  }

  /** This daemon's instance record, with current memory figures. */
  public InstanceInfo selfInfo() {
    InstanceInfo t = template;
    return new InstanceInfo(
        instanceId, t.hostname(), t.ipcSocket(), rpcEndpoint, arena.used(), arena.capacity(), t.startedAt(), t.daemonVersion());
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
    // Concurrent persists of one object share one publication: none reports success before it is done.
    CompletableFuture<Void> mine = new CompletableFuture<>();
    CompletableFuture<Void> running = persisting.putIfAbsent(id, mine);
    if (running != null) {
      try {
        running.join();
        return;
      } catch (CompletionException e) {
        throw e.getCause() instanceof RuntimeException r ? r : e;
      }
    }
    try {
      publishTree(id);
      mine.complete(null);
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      persisting.remove(id);
    }
  }

  private void publishTree(long id) {
    ObjectStore s = store;
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
    ObjectMeta tree = s.getMeta(id);
    Map<Long, ObjectMeta> nodes = new LinkedHashMap<>();
    collectPublishable(tree, nodes, true);
    // The names of every object under the root, blobs included.
    Map<String, Long> names = new TreeMap<>();
    for (long nid : treeIds(tree)) {
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

  /** The ids of every object of the tree, blobs included, each once. */
  private static Set<Long> treeIds(ObjectMeta root) {
    Set<Long> ids = new LinkedHashSet<>();
    List<ObjectMeta> stack = new ArrayList<>(List.of(root));
    while (!stack.isEmpty()) {
      ObjectMeta m = stack.removeLast();
      if (ids.add(m.id().value())) {
        stack.addAll(m.members().values());
      }
    }
    return ids;
  }

  /**
   * Every object of the tree, blobs included, by id: each is published as a record of its own, so
   * that every instance can look up any of them (a member blob's published name must lead to it).
   * Each distinct object once, however many places of the tree it appears at.
   */
  private static void collectPublishable(ObjectMeta m, Map<Long, ObjectMeta> out, boolean root) {
    if (out.putIfAbsent(m.id().value(), m) != null) {
      return;
    }
    for (ObjectMeta member : m.members().values()) {
      collectPublishable(member, out, false);
    }
  }

  /**
   * Stores a global object: its members are persisted objects of any instance, named by id. The
   * global object is minted here, kept in the store like any object, and persisted at once.
   */
  public long putGlobal(ObjectMeta meta) {
    ObjectStore s = store;
    Map<String, ObjectMeta> members = new TreeMap<>();
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
    }
    long id = s.putGlobal(meta, members);
    ObjectMeta global = s.getMeta(id);
    synchronized (this) {
      // Recorded first: whatever reaches the backend is then withdrawn by a later delete.
      published.put(id, global);
    }
    try {
      backend.publish(List.of(global));
    } catch (RuntimeException e) {
      synchronized (this) {
        published.remove(id);
        pendingUnpublish.add(id);
      }
      try {
        s.delete(List.of(id), true, false);
      } catch (RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
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
    if (store.exists(id)) {
      return null; // local and not persisted
    }
    return backend.lookup(new ObjectId(id)).orElse(null);
  }

  // ---------------------------------------------------------------- lookups

  /** A persisted object's tree from the backend: for ids this daemon does not hold. */
  public ObjectMeta getRemoteMeta(long id) {
    return backend.lookup(new ObjectId(id)).orElseThrow(() -> notFound(id));
  }

  /** The tree from this daemon's store, else from the backend. */
  private ObjectMeta tree(long id) {
    try {
      return store.getMeta(id);
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        throw e;
      }
    }
    return getRemoteMeta(id);
  }

  /** A name bound cluster-wide (the store's own names are looked up first by the caller). */
  public long getRemoteName(String name) {
    Optional<ObjectId> id = backend.getName(name);
    if (id.isEmpty()) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + RequestLimits.echo(name) + "'");
    }
    return id.get().value();
  }

  /** Whether binding {@code name} to {@code id} involves the backend (a persisted or remote object). */
  public boolean nameNeedsCluster(long id) {
    synchronized (this) {
      if (published.containsKey(id)) {
        return true;
      }
    }
    return !store.exists(id);
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
    store.limits().checkName(name);
    ObjectStore s = store;
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
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + RequestLimits.echo(name) + "'");
    }
  }

  private boolean dropLocalName(String name) {
    try {
      store.dropName(name);
      return true;
    } catch (VineyardException e) {
      if (e.code() != ErrorCode.NOT_FOUND) {
        throw e;
      }
      return false;
    }
  }

  /** Up to {@code limit} persisted objects of every instance whose typename matches the glob (members as references). */
  public Listing listGlobal(String typenameGlob, int limit) {
    Glob p = typenameGlob == null || typenameGlob.isEmpty() ? null : new Glob(typenameGlob);
    MetadataBackend.Page page = backend.list(t -> p == null || p.matches(t), limit);
    List<ObjectInfo> out = new ArrayList<>();
    Map<ObjectId, List<String>> names = page.names();
    for (ObjectMeta m : page.objects()) {
      Map<String, ObjectMeta> byId = new TreeMap<>();
      m.members().forEach((k, v) -> byId.put(k, ObjectMeta.reference(v.id())));
      ObjectMeta shallow = ObjectMeta.of(m.id(), m.typename(), m.nbytes(), m.instanceId(), m.isGlobal(), m.fields(), byId);
      out.add(new ObjectInfo(shallow, names.getOrDefault(m.id(), List.of()).stream().sorted().toList()));
    }
    return new Listing(out, page.truncated());
  }

  /** The registered instances. */
  public List<InstanceInfo> instances() {
    return backend.instances();
  }

  /** Where the object, each member and each blob under it lives. */
  public List<Placement> locate(long id) {
    ObjectMeta tree = tree(id);
    Map<Long, InstanceInfo> byId = new HashMap<>();
    for (InstanceInfo i : backend.instances()) {
      byId.put(i.id(), i);
    }
    List<Placement> out = new ArrayList<>();
    place(tree, "", byId, out, new HashSet<>());
    return out;
  }

  /**
   * Each distinct object once, at the first path it is met at: a member shared by many places of a
   * tree (up to --max-tree-objects of them) would otherwise be a placement, and a path, each time.
   */
  private static void place(ObjectMeta m, String path, Map<Long, InstanceInfo> instances, List<Placement> out, Set<Long> seen) {
    if (m.id() != null && !seen.add(m.id().value())) {
      return;
    }
    InstanceInfo at = instances.get(m.instanceId());
    out.add(new Placement(
        path, m.id(), m.typename(), m.nbytes(), m.instanceId(), at == null ? "" : at.hostname(), at == null ? "" : at.rpcEndpoint()));
    m.members()
        .forEach((name, member) -> place(member, path.isEmpty() ? name : path + "/" + name, instances, out, seen));
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
    ObjectStore s = store;
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
      tree = getRemoteMeta(id);
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

  /** The local replica that a migration made of {@code id}, while it exists. */
  public Optional<Long> localReplica(long id) {
    return Optional.ofNullable(replicaOf(id));
  }

  private synchronized Long replicaOf(long id) {
    Long local = replicas.get(id);
    if (local != null && !store.exists(local)) {
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
      local = s.putMeta(ObjectMeta.of(null, m.typename(), m.nbytes(), m.instanceId(), false, m.fields(), members));
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
      MemorySegment target = arena.bytes(loc.range());
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
    return peers.computeIfAbsent(endpoint, peerClient);
  }

  private static VineyardException notFound(long id) {
    return new VineyardException(ErrorCode.NOT_FOUND, "object " + new ObjectId(id) + " does not exist");
  }

  @Override
  public void close() {
    retry.shutdownNow();
    peers.values().forEach(RpcClient::close);
    peers.clear();
    backend.close();
  }
}
