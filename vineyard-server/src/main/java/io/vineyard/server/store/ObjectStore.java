package io.vineyard.server.store;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.proto.ipc.StatsResponse;
import io.vineyard.server.memory.BlobAllocator;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's object table: blobs (ranges of the shared-memory arena) and metadata objects, the
 * names bound to them, and which client pins what. Every method is atomic (one lock). None touches
 * blob bytes, so each is a few microseconds whatever the data size, except when memory is short and
 * a spill directory is set: then a create may write blobs out, and a get may read one back, under
 * that lock (a known cost: other requests wait meanwhile).
 *
 * <p>Rules: a blob is readable only once sealed, and only its creator can seal or abort it. A get
 * pins a blob for that client until released or until the client disconnects; deleting a pinned
 * blob hides it at once and frees its memory when the last pin goes. A client's disconnect drops its
 * pins and reclaims the blobs it left unsealed. An object's members must exist when it is stored;
 * an object that others reference can only be deleted with {@code force}, which deletes those
 * referrers too, so no stored tree ever has a dangling member.
 */
public final class ObjectStore {

  private static final Logger LOG = LoggerFactory.getLogger(ObjectStore.class);

  /** The one shared-memory region, for now. */
  public static final int REGION_ID = 0;

  private static final class BlobEntry {
    final long id;
    /** Offset in the arena; meaningless while spilled. */
    long offset;
    final long size;
    final long creator;
    boolean sealed;
    boolean deleted;
    boolean spilled;
    int pins;
    final Set<Long> parents = new HashSet<>();

    BlobEntry(long id, long offset, long size, long creator) {
      this.id = id;
      this.offset = offset;
      this.size = size;
      this.creator = creator;
    }
  }

  private static final class MetaEntry {
    final io.vineyard.proto.ipc.ObjectMeta shallow;
    final Set<Long> parents = new HashSet<>();

    MetaEntry(io.vineyard.proto.ipc.ObjectMeta shallow) {
      this.shallow = shallow;
    }
  }

  /** Where a blob lives, as handed to clients. */
  public record Location(long id, int region, long offset, long size) {}

  /** The outcome of a delete. */
  public record DeleteResult(List<Long> deleted, List<Long> deferred) {}

  /**
   * What the store needs to spill: its view of the arena's bytes, where they go, and the marks.
   *
   * @param memory the daemon's read-write mapping of the arena
   * @param upper spill when resident bytes exceed this fraction of capacity
   * @param lower spill down to this fraction
   */
  public record Tiering(java.lang.foreign.MemorySegment memory, BlobSpiller spiller, double upper, double lower) {
    public Tiering {
      if (!(lower > 0 && lower < upper && upper <= 1)) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "spill marks must satisfy 0 < lower < upper <= 1, got " + lower + " and " + upper);
      }
    }
  }

  private final long instanceId;
  private final IdGenerator ids;
  private final Tiering tiering;
  /** Resident, sealed, unpinned, non-empty blobs: the ones that may be spilled, least recently used first. */
  private final LinkedHashMap<Long, BlobEntry> evictable = new LinkedHashMap<>();
  private long spilledBytes;
  private long spilledBlobs;
  private long spillWrites;
  private long reloads;
  private final BlobAllocator allocator;
  private final int defaultListLimit;

  private final Map<Long, BlobEntry> blobs = new HashMap<>();
  private final Map<Long, MetaEntry> objects = new HashMap<>();
  /** Every visible object and sealed blob, in creation order, for listing. */
  private final Set<Long> creationOrder = new LinkedHashSet<>();
  private final Map<String, Long> names = new TreeMap<>();
  private final Map<Long, TreeSet<String>> namesById = new HashMap<>();
  private final Map<Long, Session> sessions = new HashMap<>();
  private long nextSessionId = 1;
  private long unsealedCount;

  public ObjectStore(long instanceId, long capacity, int defaultListLimit) {
    this(instanceId, capacity, defaultListLimit, null);
  }

  /** A store that spills to {@code tiering} when memory is short ({@code null}: never spills). */
  public ObjectStore(long instanceId, long capacity, int defaultListLimit, Tiering tiering) {
    this.tiering = tiering;
    this.instanceId = instanceId;
    this.ids = new IdGenerator(instanceId);
    this.allocator = new BlobAllocator(capacity);
    this.defaultListLimit = defaultListLimit;
  }

  public long instanceId() {
    return instanceId;
  }

  /** A fresh object id of this instance, for objects kept outside this table (global objects). */
  public long mintObjectId() {
    return ids.nextObjectId().value();
  }

  /** Resident bytes handed out to blobs; read without the store's lock (a spill may hold it). */
  public long usedBytes() {
    return allocator.used();
  }

  public long capacity() {
    return allocator.capacity();
  }

  // ---------------------------------------------------------------- clients

  public synchronized Session openSession(String name) {
    Session s = new Session(nextSessionId++, name == null ? "" : name);
    sessions.put(s.id, s);
    return s;
  }

  /** Drops every pin of the session and reclaims the blobs it left unsealed. */
  public synchronized void closeSession(Session s) {
    if (sessions.remove(s.id) == null) {
      return;
    }
    long reclaimed = 0;
    for (long id : s.unsealed) {
      BlobEntry b = blobs.remove(id);
      if (b != null) {
        reclaimed += b.size;
        unsealedCount--;
        freeRange(b);
      }
    }
    s.unsealed.clear();
    s.pins.forEach((id, count) -> unpin(blobs.get(id), count));
    int pinned = s.pins.size();
    s.pins.clear();
    if (reclaimed > 0 || pinned > 0) {
      LOG.info("{} disconnected: reclaimed {} of unsealed blobs, dropped pins on {} blobs",
          s, MemorySize.format(reclaimed), pinned);
    }
  }

  // ---------------------------------------------------------------- blobs

  public synchronized Location createBlob(Session s, long size) {
    if (size < 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blob size must not be negative: " + size);
    }
    long offset = allocate(size);
    long id = ids.nextBlobId().value();
    blobs.put(id, new BlobEntry(id, offset, size, s.id));
    s.unsealed.add(id);
    unsealedCount++;
    return new Location(id, REGION_ID, offset, size);
  }

  public synchronized void seal(Session s, long id, boolean keepPinned) {
    BlobEntry b = ownUnsealed(s, id, "seal");
    b.sealed = true;
    s.unsealed.remove(id);
    unsealedCount--;
    creationOrder.add(id);
    if (keepPinned) {
      pin(s, b);
    } else {
      markEvictable(b);
    }
  }

  /** Seals several blobs of this client: all, or (when one cannot be sealed) none. */
  public synchronized void sealAll(Session s, List<Long> blobIds, boolean keepPinned) {
    if (new HashSet<>(blobIds).size() != blobIds.size()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a blob is listed twice in one seal");
    }
    for (long id : blobIds) {
      ownUnsealed(s, id, "seal");
    }
    for (long id : blobIds) {
      seal(s, id, keepPinned);
    }
  }

  /**
   * Takes back a blob this client created in a batch that failed: aborts it if unsealed, else (it
   * was sealed with its data, and nobody has its id yet) deletes it.
   */
  public synchronized void discard(Session s, long id) {
    BlobEntry b = blobs.get(id);
    if (b == null) {
      return;
    }
    if (!b.sealed) {
      abort(s, id);
    } else {
      delete(List.of(id), true, false);
    }
  }

  public synchronized void abort(Session s, long id) {
    BlobEntry b = ownUnsealed(s, id, "abort");
    blobs.remove(id);
    s.unsealed.remove(id);
    unsealedCount--;
    freeRange(b);
  }

  private BlobEntry ownUnsealed(Session s, long id, String what) {
    BlobEntry b = blobs.get(id);
    if (b == null || b.deleted) {
      throw notFound(id);
    }
    if (b.sealed) {
      throw new VineyardException(ErrorCode.ALREADY_SEALED, "blob " + new ObjectId(id) + " is already sealed");
    }
    if (b.creator != s.id) {
      throw new VineyardException(
          ErrorCode.PERMISSION_DENIED, "cannot " + what + " blob " + new ObjectId(id) + ": another client is writing it");
    }
    return b;
  }

  /** Pins every blob for the session; fails without pinning any if one is missing or unsealed. */
  public synchronized List<Location> getBlobs(Session s, List<Long> blobIds) {
    List<BlobEntry> found = new ArrayList<>(blobIds.size());
    for (long id : blobIds) {
      found.add(sealedBlob(id));
    }
    List<Location> out = new ArrayList<>(found.size());
    try {
      for (BlobEntry b : found) {
        if (b.spilled) {
          reload(b);
        }
        // Pinned at once, so that loading the next one cannot spill this one again.
        pin(s, b);
        out.add(new Location(b.id, REGION_ID, b.offset, b.size));
      }
    } catch (RuntimeException e) {
      for (Location l : out) {
        release(s, List.of(l.id()));
      }
      throw e;
    }
    return out;
  }

  /** Drops one pin per id; ids the session does not hold are ignored (and logged). */
  public synchronized void release(Session s, List<Long> blobIds) {
    for (long id : blobIds) {
      Integer n = s.pins.get(id);
      if (n == null) {
        LOG.debug("{} released {} which it does not hold", s, new ObjectId(id));
        continue;
      }
      if (n == 1) {
        s.pins.remove(id);
      } else {
        s.pins.put(id, n - 1);
      }
      unpin(blobs.get(id), 1);
    }
  }

  private void pin(Session s, BlobEntry b) {
    b.pins++;
    s.pins.merge(b.id, 1, Integer::sum);
    evictable.remove(b.id);
  }

  private void unpin(BlobEntry b, int count) {
    if (b == null) {
      return;
    }
    b.pins -= count;
    if (b.pins <= 0 && b.deleted) {
      blobs.remove(b.id);
      freeRange(b);
    } else if (b.pins <= 0) {
      markEvictable(b); // most recently used: last to go
    }
  }

  private void markEvictable(BlobEntry b) {
    if (tiering != null && b.sealed && !b.deleted && !b.spilled && b.size > 0) {
      evictable.remove(b.id);
      evictable.put(b.id, b);
    }
  }

  /** Gives back a blob's memory, or its spill file. */
  private void freeRange(BlobEntry b) {
    evictable.remove(b.id);
    if (b.spilled) {
      tiering.spiller().delete(b.id);
      b.spilled = false;
      spilledBytes -= b.size;
      spilledBlobs--;
    } else if (b.size > 0) {
      allocator.free(b.offset, b.size);
    }
  }

  // ---------------------------------------------------------------- memory and spilling

  /**
   * Allocates arena space, spilling least recently used blobs first when a spill directory is set
   * and the request does not fit; afterwards spills down to the lower mark if usage crossed the
   * upper one.
   */
  private long allocate(long size) {
    if (size == 0) {
      return 0;
    }
    long offset = allocator.allocate(size);
    IOException spillFailure = null;
    // A request larger than all of memory cannot be helped by spilling: fail without writing anything.
    if (offset < 0 && tiering != null && size <= allocator.capacity()) {
      spillFailure = spill(BlobAllocator.footprint(size), lowMark());
      offset = allocator.allocate(size);
    }
    if (offset < 0) {
      String why =
          "cannot allocate " + MemorySize.format(size) + " (" + size + " bytes): " + MemorySize.format(allocator.free())
              + " free of " + MemorySize.format(allocator.capacity()) + ", largest free block "
              + MemorySize.format(allocator.largestFree());
      if (spillFailure != null) {
        throw new VineyardException(
            ErrorCode.OUT_OF_MEMORY, why + "; spilling to " + tiering.spiller().describe() + " failed: " + spillFailure.getMessage());
      }
      throw new VineyardException(
          ErrorCode.OUT_OF_MEMORY,
          why + (tiering == null ? " (no --spill-dir)" : "; nothing left to spill: the rest is pinned or being written"));
    }
    if (tiering != null && allocator.used() > tiering.upper() * allocator.capacity()) {
      IOException e = spill(0, lowMark());
      if (e != null) {
        LOG.warn("spilling to {} failed, memory stays above the upper mark: {}", tiering.spiller().describe(), e.toString());
      }
    }
    return offset;
  }

  private long lowMark() {
    return (long) (tiering.lower() * allocator.capacity());
  }

  /**
   * Spills evictable blobs, least recently used first, until a block of {@code need} bytes is free
   * and usage is at most {@code target}, or nothing is left to spill. Returns the I/O failure that
   * stopped it, if any; the blob that failed stays resident.
   */
  private IOException spill(long need, long target) {
    while ((allocator.largestFree() < need || allocator.used() > target) && !evictable.isEmpty()) {
      BlobEntry victim = evictable.values().iterator().next();
      try {
        tiering.spiller().write(victim.id, tiering.memory().asSlice(victim.offset, victim.size));
      } catch (IOException e) {
        return e;
      }
      evictable.remove(victim.id);
      allocator.free(victim.offset, victim.size);
      victim.spilled = true;
      spilledBytes += victim.size;
      spilledBlobs++;
      spillWrites++;
    }
    return null;
  }

  /** Loads a spilled blob back into the arena (spilling others if need be). */
  private void reload(BlobEntry b) {
    long offset = allocate(b.size);
    try {
      tiering.spiller().read(b.id, tiering.memory().asSlice(offset, b.size));
    } catch (IOException e) {
      allocator.free(offset, b.size);
      throw new VineyardException(
          ErrorCode.IO_ERROR, "cannot load blob " + new ObjectId(b.id) + " back from " + tiering.spiller().describe() + ": " + e);
    }
    tiering.spiller().delete(b.id);
    b.offset = offset;
    b.spilled = false;
    spilledBytes -= b.size;
    spilledBlobs--;
    reloads++;
  }

  private BlobEntry sealedBlob(long id) {
    BlobEntry b = blobs.get(id);
    if (b == null || b.deleted) {
      throw notFound(id);
    }
    if (!b.sealed) {
      throw new VineyardException(ErrorCode.NOT_SEALED, "blob " + new ObjectId(id) + " is not sealed yet");
    }
    return b;
  }

  // ---------------------------------------------------------------- objects

  public synchronized boolean exists(long id) {
    return visible(id);
  }

  private boolean visible(long id) {
    if (objects.containsKey(id)) {
      return true;
    }
    BlobEntry b = blobs.get(id);
    return b != null && b.sealed && !b.deleted;
  }

  /** Stores an object whose members exist already; returns its id. */
  public synchronized long putMeta(io.vineyard.proto.ipc.ObjectMeta meta) {
    if (meta.getTypename().isBlank()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an object needs a typename");
    }
    if (meta.getTypename().equals(ObjectMeta.BLOB_TYPENAME)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blobs are made with create-blob, not put-meta");
    }
    io.vineyard.proto.ipc.ObjectMeta.Builder shallow =
        meta.toBuilder().clearMembers().setInstanceId(instanceId);
    Set<Long> memberIds = new HashSet<>();
    for (Map.Entry<String, io.vineyard.proto.ipc.ObjectMeta> m : meta.getMembersMap().entrySet()) {
      long mid = m.getValue().getId();
      if (!visible(mid)) {
        BlobEntry b = blobs.get(mid);
        if (b != null && !b.sealed && !b.deleted) {
          throw new VineyardException(
              ErrorCode.NOT_SEALED, "member '" + m.getKey() + "' is blob " + new ObjectId(mid) + ", not sealed yet");
        }
        throw new VineyardException(
            ErrorCode.NOT_FOUND, "member '" + m.getKey() + "' refers to unknown object " + new ObjectId(mid));
      }
      shallow.putMembers(m.getKey(), io.vineyard.proto.ipc.ObjectMeta.newBuilder().setId(mid).build());
      memberIds.add(mid);
    }
    if (meta.getNbytes() == 0) {
      shallow.setNbytes(distinctBlobBytes(memberIds));
    }
    long id = ids.nextObjectId().value();
    shallow.setId(id);
    objects.put(id, new MetaEntry(shallow.build()));
    creationOrder.add(id);
    for (long mid : memberIds) {
      parentsOf(mid).add(id);
    }
    return id;
  }

  private long distinctBlobBytes(Collection<Long> roots) {
    Set<Long> seen = new HashSet<>();
    List<Long> stack = new ArrayList<>(roots);
    long total = 0;
    while (!stack.isEmpty()) {
      long id = stack.removeLast();
      if (!seen.add(id)) {
        continue;
      }
      BlobEntry b = blobs.get(id);
      if (b != null) {
        total += b.size;
        continue;
      }
      MetaEntry e = objects.get(id);
      if (e != null) {
        e.shallow.getMembersMap().values().forEach(m -> stack.add(m.getId()));
      }
    }
    return total;
  }

  private Set<Long> parentsOf(long id) {
    MetaEntry e = objects.get(id);
    if (e != null) {
      return e.parents;
    }
    return blobs.get(id).parents;
  }

  /** The object's metadata with every member expanded. */
  public synchronized io.vineyard.proto.ipc.ObjectMeta getMeta(long id) {
    return expand(id);
  }

  private io.vineyard.proto.ipc.ObjectMeta expand(long id) {
    MetaEntry e = objects.get(id);
    if (e == null) {
      return blobMeta(sealedBlob(id));
    }
    if (e.shallow.getMembersCount() == 0) {
      return e.shallow;
    }
    io.vineyard.proto.ipc.ObjectMeta.Builder b = e.shallow.toBuilder();
    e.shallow.getMembersMap().forEach((name, ref) -> b.putMembers(name, expand(ref.getId())));
    return b.build();
  }

  private io.vineyard.proto.ipc.ObjectMeta blobMeta(BlobEntry b) {
    return io.vineyard.proto.ipc.ObjectMeta.newBuilder()
        .setId(b.id)
        .setTypename(ObjectMeta.BLOB_TYPENAME)
        .setNbytes(b.size)
        .setInstanceId(instanceId)
        .build();
  }

  /** An entry of a listing: shallow metadata (members by id) and bound names. */
  public record Listed(io.vineyard.proto.ipc.ObjectMeta meta, List<String> names) {}

  /** A listing, and whether the limit cut it short. */
  public record Listing(List<Listed> entries, boolean truncated) {}

  /** Lists visible objects whose typename matches the glob, oldest first. */
  public synchronized Listing list(String typenameGlob, int limit) {
    Pattern p = typenameGlob == null || typenameGlob.isEmpty() ? null : globToRegex(typenameGlob);
    int max = limit <= 0 ? defaultListLimit : limit;
    List<Listed> out = new ArrayList<>();
    boolean truncated = false;
    for (long id : creationOrder) {
      MetaEntry e = objects.get(id);
      io.vineyard.proto.ipc.ObjectMeta m = e != null ? e.shallow : blobMeta(blobs.get(id));
      if (p != null && !p.matcher(m.getTypename()).matches()) {
        continue;
      }
      if (out.size() == max) {
        truncated = true;
        break;
      }
      TreeSet<String> n = namesById.get(id);
      out.add(new Listed(m, n == null ? List.of() : List.copyOf(n)));
    }
    return new Listing(out, truncated);
  }

  /** A glob over typenames ({@code *} any run, {@code ?} one character) as a regular expression. */
  public static Pattern globToRegex(String glob) {
    StringBuilder re = new StringBuilder();
    for (char c : glob.toCharArray()) {
      switch (c) {
        case '*' -> re.append(".*");
        case '?' -> re.append('.');
        default -> re.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(re.toString());
  }

  /**
   * Deletes objects and blobs. Without {@code force}, fails (deleting nothing) if any of them is a
   * member of an object not also being deleted. With {@code force}, objects that reference them are
   * deleted too. With {@code deep}, members left unreferenced are deleted too.
   */
  public synchronized DeleteResult delete(List<Long> targets, boolean force, boolean deep) {
    Set<Long> requested = new HashSet<>(targets);
    for (long id : targets) {
      if (!visible(id)) {
        throw notFound(id);
      }
      if (!force) {
        for (long parent : parentsOf(id)) {
          if (!requested.contains(parent)) {
            throw new VineyardException(
                ErrorCode.OBJECT_IN_USE,
                new ObjectId(id) + " is a member of " + new ObjectId(parent) + "; delete that first, or use force");
          }
        }
      }
    }
    List<Long> deleted = new ArrayList<>();
    List<Long> deferred = new ArrayList<>();
    for (long id : targets) {
      deleteOne(id, deep, requested, deleted, deferred);
    }
    return new DeleteResult(deleted, deferred);
  }

  private void deleteOne(long id, boolean deep, Set<Long> requested, List<Long> deleted, List<Long> deferred) {
    if (!visible(id)) {
      return; // already deleted in this call
    }
    for (long parent : List.copyOf(parentsOf(id))) {
      // A referrer that is itself a target is deleted as asked (deep included), whatever the order of
      // the targets; one deleted only because of force is not deep-deleted.
      deleteOne(parent, deep && requested.contains(parent), requested, deleted, deferred);
    }
    if (!visible(id)) {
      return; // a parent's deep delete took this one already
    }
    dropNamesOf(id);
    creationOrder.remove(id);
    deleted.add(id);
    MetaEntry e = objects.remove(id);
    if (e != null) {
      for (io.vineyard.proto.ipc.ObjectMeta ref : e.shallow.getMembersMap().values()) {
        long mid = ref.getId();
        if (!visible(mid)) {
          continue;
        }
        Set<Long> parents = parentsOf(mid);
        parents.remove(id);
        if (deep && parents.isEmpty()) {
          deleteOne(mid, true, requested, deleted, deferred);
        }
      }
      return;
    }
    BlobEntry b = blobs.get(id);
    if (b.pins > 0) {
      b.deleted = true;
      deferred.add(id);
    } else {
      blobs.remove(id);
      freeRange(b);
    }
  }

  // ---------------------------------------------------------------- names

  public synchronized void putName(String name, long id) {
    checkName(name);
    if (!visible(id)) {
      throw notFound(id);
    }
    Long old = names.put(name, id);
    if (old != null) {
      removeReverseName(old, name);
    }
    namesById.computeIfAbsent(id, k -> new TreeSet<>()).add(name);
  }

  public synchronized long getName(String name) {
    checkName(name);
    Long id = names.get(name);
    if (id == null) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + name + "'");
    }
    return id;
  }

  public synchronized void dropName(String name) {
    checkName(name);
    Long id = names.remove(name);
    if (id == null) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + name + "'");
    }
    removeReverseName(id, name);
  }

  public synchronized boolean hasName(String name) {
    return names.containsKey(name);
  }

  /** The names bound to an object, sorted. */
  public synchronized List<String> namesOf(long id) {
    TreeSet<String> n = namesById.get(id);
    return n == null ? List.of() : List.copyOf(n);
  }

  private void dropNamesOf(long id) {
    TreeSet<String> n = namesById.remove(id);
    if (n != null) {
      n.forEach(names::remove);
    }
  }

  private void removeReverseName(long id, String name) {
    TreeSet<String> n = namesById.get(id);
    if (n != null) {
      n.remove(name);
      if (n.isEmpty()) {
        namesById.remove(id);
      }
    }
  }

  private static void checkName(String name) {
    if (name == null || name.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a name must not be empty");
    }
  }

  // ---------------------------------------------------------------- stats

  public synchronized StatsResponse stats() {
    long pinned = 0;
    long blobCount = 0;
    for (BlobEntry b : blobs.values()) {
      if (!b.deleted) {
        blobCount++;
      }
      if (b.pins > 0) {
        pinned++;
      }
    }
    Runtime rt = Runtime.getRuntime();
    return StatsResponse.newBuilder()
        .setInstanceId(instanceId)
        .setCapacityBytes(allocator.capacity())
        .setUsedBytes(allocator.used())
        .setObjectCount(creationOrder.size())
        .setBlobCount(blobCount)
        .setUnsealedBlobCount(unsealedCount)
        .setPinnedBlobCount(pinned)
        .setClientCount(sessions.size())
        .setNameCount(names.size())
        .setHeapUsedBytes(rt.totalMemory() - rt.freeMemory())
        .setHeapMaxBytes(rt.maxMemory())
        .setLargestFreeBytes(allocator.largestFree())
        .setSpilledBytes(spilledBytes)
        .setSpilledBlobCount(spilledBlobs)
        .setSpillWrites(spillWrites)
        .setReloads(reloads)
        .build();
  }

  private static VineyardException notFound(long id) {
    return new VineyardException(ErrorCode.NOT_FOUND, "object " + new ObjectId(id) + " does not exist");
  }

  /** For tests: a snapshot of pins per blob id. */
  synchronized Map<Long, Integer> pinsSnapshot() {
    Map<Long, Integer> m = new LinkedHashMap<>();
    blobs.forEach((id, b) -> m.put(id, b.pins));
    return m;
  }
}
