package io.vineyard.server.store;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import io.vineyard.internal.Escapes;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.memory.MemoryArena.Range;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's object graph: blobs (ranges of the {@link MemoryArena}), metadata objects, global
 * objects (whose members live on other instances), the names bound to them, and which client pins
 * what. Every table operation is atomic under the store's monitor and touches no blob bytes, so it
 * costs microseconds whatever the data size.
 *
 * <p>Spilling and reloading move bytes, so they never run under the monitor: a blob being written
 * out or read back is marked in transit, the I/O runs outside the lock, and the table is updated
 * afterwards. The methods that may do such I/O ({@link #createBlob}, {@link #getBlobs}, {@link
 * #spillToLowMark}) block and must not run on an I/O event loop; the {@code try} variants never
 * block and say when the blocking one is needed.
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

  /** Where a blob's bytes are, relative to memory. */
  private enum Residency {
    /** In the arena. */
    RESIDENT,
    /** In the arena, and being written to the spill directory (so its range must not be freed). */
    SPILLING,
    /** Only in the spill directory. */
    SPILLED,
    /** Being read back from the spill directory into a range reserved for it. */
    RELOADING
  }

  private static final class BlobEntry {
    final long id;
    final long size;
    final long creator;
    /** The trust domain whose regions hold its bytes (also when it is loaded back after a spill). */
    final int domain;
    /** Its bytes; while spilled, {@code null}; while reloading, the range being filled. */
    Range range;
    boolean sealed;
    boolean deleted;
    Residency residency = Residency.RESIDENT;
    /** Completes when a reload ends (either way); set while {@link Residency#RELOADING}. */
    CompletableFuture<Void> reloaded;
    int pins;
    final Set<Long> parents = new HashSet<>();

    BlobEntry(long id, Range range, long size, long creator, int domain) {
      this.id = id;
      this.range = range;
      this.size = size;
      this.creator = creator;
      this.domain = domain;
    }

    boolean inTransit() {
      return residency == Residency.SPILLING || residency == Residency.RELOADING;
    }
  }

  private static final class MetaEntry {
    /** The object with its members as references ({@link ObjectMeta#reference}). */
    final ObjectMeta shallow;
    /** For a global object: the full tree, members expanded from the cluster when it was stored. */
    final ObjectMeta globalTree;
    final Set<Long> parents = new HashSet<>();
    /** Levels of its tree: 1 + its deepest member's (a blob is level 1). */
    final int depth;
    /** What its metadata counts against the heap budget ({@link RequestLimits#metaBytes}). */
    final long metaBytes;
    /** Objects of its tree, itself included, a member counted as often as it appears (a blob is 1). */
    final long treeObjects;

    MetaEntry(ObjectMeta shallow, ObjectMeta globalTree, int depth, long metaBytes, long treeObjects) {
      this.shallow = shallow;
      this.globalTree = globalTree;
      this.depth = depth;
      this.metaBytes = metaBytes;
      this.treeObjects = treeObjects;
    }
  }

  /** Where a blob lives, as handed to clients. */
  public record Location(long id, Range range) {
    public long size() {
      return range.size();
    }

    public int region() {
      return range.region();
    }

    public long offset() {
      return range.offset();
    }
  }

  /** The outcome of a delete. */
  public record DeleteResult(List<Long> deleted, List<Long> deferred) {}

  /**
   * Spilling: where bytes go and the marks.
   *
   * @param upper spill when resident bytes exceed this fraction of capacity
   * @param lower spill down to this fraction
   */
  public record Tiering(BlobSpiller spiller, double upper, double lower) {
    public Tiering {
      if (!(lower > 0 && lower < upper && upper <= 1)) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "spill marks must satisfy 0 < lower < upper <= 1, got " + lower + " and " + upper);
      }
    }
  }

  private final long instanceId;
  private final IdGenerator ids;
  private final MemoryArena arena;
  private final Tiering tiering;
  private final int defaultListLimit;
  private final RequestLimits limits;
  /** Metadata bytes of the stored objects, against {@link RequestLimits#metaMemory}. */
  private long metaBytes;
  /** One spill pass at a time (never held with the monitor while waiting for it). */
  private final ReentrantLock spilling = new ReentrantLock();
  /** Resident, sealed, unpinned, non-empty blobs: the ones that may be spilled, least recently used first. */
  private final LinkedHashMap<Long, BlobEntry> evictable = new LinkedHashMap<>();
  private long spilledBytes;
  private long spilledBlobs;
  private long spillWrites;
  private long reloads;

  private final Map<Long, BlobEntry> blobs = new HashMap<>();
  private final Map<Long, MetaEntry> objects = new HashMap<>();
  /** Every visible object and sealed blob, in creation order, for listing. */
  private final Set<Long> creationOrder = new LinkedHashSet<>();
  /** The objects (not blobs) of {@link #creationOrder}, in the same order: what a listing of typed objects walks. */
  private final Set<Long> objectOrder = new LinkedHashSet<>();
  /** Blobs with at least one pin; deleted blobs still present (pinned or in transit). Kept so stats need no scan. */
  private long pinnedBlobs;
  private long deferredDeletes;
  private final Map<String, Long> names = new TreeMap<>();
  private final Map<Long, TreeSet<String>> namesById = new HashMap<>();
  private final Map<Long, Session> sessions = new HashMap<>();
  private long nextSessionId = 1;
  private long unsealedCount;

  public ObjectStore(long instanceId, MemoryArena arena, int defaultListLimit) {
    this(instanceId, arena, defaultListLimit, null);
  }

  /** A store that spills to {@code tiering} when memory is short ({@code null}: never spills). */
  public ObjectStore(long instanceId, MemoryArena arena, int defaultListLimit, Tiering tiering) {
    this(instanceId, arena, defaultListLimit, tiering, RequestLimits.DEFAULT);
  }

  /** As above, refusing requests over {@code limits}. */
  public ObjectStore(long instanceId, MemoryArena arena, int defaultListLimit, Tiering tiering, RequestLimits limits) {
    this.limits = limits;
    this.instanceId = instanceId;
    this.ids = new IdGenerator(instanceId);
    this.arena = arena;
    this.tiering = tiering;
    this.defaultListLimit = defaultListLimit;
  }

  public long instanceId() {
    return instanceId;
  }

  /** What one request may cost. */
  public RequestLimits limits() {
    return limits;
  }

  /** The memory the store allocates from. */
  public MemoryArena arena() {
    return arena;
  }

  /** Resident bytes handed out to blobs; read without the store's lock. */
  public long usedBytes() {
    return arena.used();
  }

  public long capacity() {
    return arena.capacity();
  }

  // ---------------------------------------------------------------- clients

  public Session openSession(String name) {
    return openSession(name, MemoryArena.SHARED);
  }

  /** A session of a client in trust domain {@code domain} (see {@link MemoryArena}). */
  public synchronized Session openSession(String name, int domain) {
    Session s = new Session(nextSessionId++, name == null ? "" : name, domain);
    sessions.put(s.id, s);
    return s;
  }

  /** Drops every pin of the session and reclaims the blobs it left unsealed. Idempotent. */
  public synchronized void closeSession(Session s) {
    if (sessions.remove(s.id) == null) {
      return;
    }
    s.closed = true;
    long reclaimed = 0;
    for (long id : s.unsealed) {
      BlobEntry b = blobs.remove(id);
      if (b != null) {
        reclaimed += b.size;
        unsealedCount--;
        freeBytes(b);
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

  private static void checkOpen(Session s) {
    if (s.closed) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, s + " has disconnected");
    }
  }

  // ---------------------------------------------------------------- blobs

  /**
   * Creates an unsealed blob if it fits now.
   *
   * @return its location, or {@code null} when it does not fit, or would take memory above the
   *     upper mark, and spilling could make room (then call {@link #createBlob} off the event loop)
   * @throws VineyardException {@link ErrorCode#OUT_OF_MEMORY} when nothing can make room
   */
  public Location tryCreateBlob(Session s, long size) {
    return tryCreateBlob(s, size, s.domain);
  }

  /**
   * As {@link #tryCreateBlob(Session, long)}, in the regions of {@code domain}: the session's own
   * for a blob it fills in place, {@link MemoryArena#SHARED} for one the daemon fills itself.
   */
  public synchronized Location tryCreateBlob(Session s, long size, int domain) {
    checkSize(size);
    checkOpen(s);
    if (tiering != null && !evictable.isEmpty()
        && arena.used() + MemoryArena.footprint(size) > tiering.upper() * arena.capacity()) {
      return null; // it would cross the upper mark: its creator waits for the spill, nobody else does
    }
    Range r = arena.allocate(size, domain);
    if (r == null) {
      if (spillCouldHelp(size)) {
        return null;
      }
      throw outOfMemory(size, null);
    }
    return register(s, r, size, domain);
  }

  /**
   * Creates an unsealed blob, spilling least recently used blobs first when it does not fit and a
   * spill directory is set; afterwards spills down to the lower mark if usage crossed the upper one.
   * Blocks on spill I/O: not for an event loop.
   */
  public Location createBlob(Session s, long size) {
    return createBlob(s, size, s.domain);
  }

  /** As {@link #createBlob(Session, long)}, in the regions of {@code domain} (see {@link #tryCreateBlob(Session, long, int)}). */
  public Location createBlob(Session s, long size, int domain) {
    checkSize(size);
    IOException[] failure = {null};
    Range r = allocateMakingRoom(size, domain, failure);
    Location made;
    synchronized (this) {
      if (r == null) {
        throw outOfMemory(size, failure[0]);
      }
      if (s.closed) {
        arena.free(r);
        checkOpen(s);
      }
      made = register(s, r, size, domain);
    }
    if (aboveUpperMark()) {
      spillToLowMark(); // a large blob that did not fit can leave memory above the mark
    }
    return made;
  }

  /**
   * Allocates for a caller that may block: spills first, so that the allocation neither fails nor
   * lifts resident memory above the upper mark while something can be spilled (down to the lower
   * mark, counting the new range). One such caller at a time, so that two cannot both see room and
   * together cross the mark.
   *
   * @param failure receives the spill I/O failure, if one stopped the spilling
   * @return the range, or {@code null} when nothing can make room
   */
  private Range allocateMakingRoom(long size, int domain, IOException[] failure) {
    if (tiering != null && size > arena.capacity()) {
      synchronized (this) {
        return arena.allocate(size, domain); // no amount of spilling makes room for more than all memory
      }
    }
    spilling.lock();
    try {
      while (true) {
        long need = MemoryArena.footprint(size);
        long target;
        synchronized (this) {
          // As if allocated first and then spilled down to the lower mark; one that does not fit
          // spills to the lower mark and until a block is free.
          target = arena.largestFree(domain) >= need ? Math.max(0, lowMark() - need) : lowMark();
          boolean crosses = tiering != null && arena.used() + MemoryArena.footprint(size) > tiering.upper() * arena.capacity();
          if (!crosses || evictable.isEmpty()) {
            Range r = arena.allocate(size, domain);
            if (r != null || !spillCouldHelp(size)) {
              return r;
            }
          }
        }
        SpillOutcome o = spill(need, target, domain);
        if (o.failure != null || o.spilled == 0) {
          failure[0] = o.failure;
          synchronized (this) {
            return arena.allocate(size, domain); // fits without the spill (memory stays high), or does not
          }
        }
      }
    } finally {
      spilling.unlock();
    }
  }

  private Location register(Session s, Range r, long size, int domain) {
    long id = ids.nextBlobId().value();
    blobs.put(id, new BlobEntry(id, r, size, s.id, domain));
    s.unsealed.add(id);
    unsealedCount++;
    return new Location(id, r);
  }

  private static void checkSize(long size) {
    if (size < 0) {
      // The wire's size is unsigned: what reads as negative here is 2^63 bytes or more.
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a blob of " + Long.toUnsignedString(size) + " bytes is larger than any store");
    }
  }

  /** Whether spilling could free a block of {@code size}: it is not larger than all memory and something is evictable. */
  private boolean spillCouldHelp(long size) {
    return tiering != null && size <= arena.capacity() && (!evictable.isEmpty() || anySpilling());
  }

  private boolean anySpilling() {
    for (BlobEntry b : blobs.values()) {
      if (b.residency == Residency.SPILLING) {
        return true;
      }
    }
    return false;
  }

  private VineyardException outOfMemory(long size, IOException spillFailure) {
    if (size > arena.capacity()) {
      return new VineyardException(ErrorCode.OUT_OF_MEMORY, "a blob of " + MemorySize.format(size) + " (" + size
          + " bytes) exceeds the store's size of " + MemorySize.format(arena.capacity()) + " (--size): it can never fit");
    }
    String why = "cannot allocate " + MemorySize.format(size) + " (" + size + " bytes): " + arena.describeFree();
    if (spillFailure != null) {
      return new VineyardException(
          ErrorCode.OUT_OF_MEMORY, why + "; spilling to " + tiering.spiller().describe() + " failed: " + spillFailure.getMessage());
    }
    if (tiering == null) {
      return new VineyardException(ErrorCode.OUT_OF_MEMORY, why + " (no --spill-dir)");
    }
    return new VineyardException(ErrorCode.OUT_OF_MEMORY, why + "; nothing can be spilled: " + whatHoldsMemory());
  }

  /** How long a read of a spilled blob waits for memory that other requests hold before it fails. */
  private static final long RELOAD_PATIENCE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(2);

  /** Whether some resident memory is held for now (pinned, being written or moved) by others than {@code b}. */
  private synchronized boolean memoryMayFreeSoon(BlobEntry b) {
    for (BlobEntry e : blobs.values()) {
      if (e != b && e.range != null && e.size > 0 && (e.inTransit() || !e.sealed || e.pins > 0)) {
        return true;
      }
    }
    return false;
  }

  /** Why no resident blob can be spilled now: what the resident ones are (pinned, being written, moving). */
  private String whatHoldsMemory() {
    long pinned = 0;
    long pinnedBytes = 0;
    long unsealed = 0;
    long unsealedBytes = 0;
    long moving = 0;
    long movingBytes = 0;
    for (BlobEntry b : blobs.values()) {
      if (b.range == null || b.size == 0) {
        continue;
      }
      if (b.inTransit()) {
        moving++;
        movingBytes += b.size;
      } else if (!b.sealed) {
        unsealed++;
        unsealedBytes += b.size;
      } else if (b.pins > 0) {
        pinned++;
        pinnedBytes += b.size;
      }
    }
    List<String> parts = new ArrayList<>();
    if (pinned > 0) {
      parts.add(pinned + " blobs of " + MemorySize.format(pinnedBytes) + " are pinned (held by clients)");
    }
    if (unsealed > 0) {
      parts.add(unsealed + " blobs of " + MemorySize.format(unsealedBytes) + " are being written (unsealed)");
    }
    if (moving > 0) {
      parts.add(moving + " blobs of " + MemorySize.format(movingBytes) + " are being spilled or loaded back");
    }
    if (parts.isEmpty()) {
      return "no blob is resident that could make a block of that size";
    }
    return String.join(", ", parts);
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

  public synchronized void abort(Session s, long id) {
    BlobEntry b = ownUnsealed(s, id, "abort");
    blobs.remove(id);
    s.unsealed.remove(id);
    unsealedCount--;
    freeBytes(b);
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

  /**
   * Pins every blob for the session if all are in memory now.
   *
   * @return their locations, or {@code null} when one is spilled or being loaded back (then call
   *     {@link #getBlobs} off the event loop); pins nothing then
   * @throws VineyardException when one is missing or unsealed (pinning none)
   */
  public synchronized List<Location> tryGetBlobs(Session s, List<Long> blobIds) {
    checkOpen(s);
    List<BlobEntry> found = new ArrayList<>(blobIds.size());
    boolean allResident = true;
    for (long id : blobIds) {
      BlobEntry b = sealedBlob(id);
      found.add(b);
      allResident &= b.residency == Residency.RESIDENT || b.residency == Residency.SPILLING;
    }
    if (!allResident) {
      return null;
    }
    List<Location> out = new ArrayList<>(found.size());
    for (BlobEntry b : found) {
      pin(s, b); // a blob being spilled stays resident: its spill is given up when it ends
      out.add(new Location(b.id, b.range));
    }
    return out;
  }

  /**
   * Pins every blob for the session, loading spilled ones back first (spilling others if need be).
   * All or none are pinned. Blocks on spill I/O: not for an event loop.
   */
  public List<Location> getBlobs(Session s, List<Long> blobIds) {
    List<Location> now = tryGetBlobs(s, blobIds);
    if (now != null) {
      return now;
    }
    List<Location> out = new ArrayList<>(blobIds.size());
    try {
      for (long id : blobIds) {
        out.add(pinResident(s, id));
      }
    } catch (RuntimeException e) {
      release(s, out.stream().map(Location::id).toList());
      throw e;
    }
    if (aboveUpperMark()) {
      spillToLowMark(); // never the blobs just got: they are pinned
    }
    return out;
  }

  /** Pins one sealed blob, loading it back first if it is spilled. Blocks on I/O. */
  private Location pinResident(Session s, long id) {
    long patience = 0; // when to stop waiting for memory that others hold to be let go
    while (true) {
      BlobEntry b;
      CompletableFuture<Void> wait = null;
      synchronized (this) {
        checkOpen(s);
        b = sealedBlob(id);
        switch (b.residency) {
          case RESIDENT, SPILLING -> {
            pin(s, b);
            return new Location(b.id, b.range);
          }
          case RELOADING -> wait = b.reloaded;
          case SPILLED -> { }
        }
      }
      if (wait != null) {
        wait.handle((v, e) -> null).join(); // then look again: it may have failed or been deleted
        continue;
      }
      IOException[] failure = {null};
      Range target = allocateMakingRoom(b.size, b.domain, failure);
      if (target == null) {
        // Memory cannot be had by spilling (the spill directory is full too, say): exchange the blob
        // with a resident one that nobody holds, in the room its file takes.
        IOException[] swapFailure = {null};
        Location swapped = swapIn(s, b, swapFailure);
        if (swapped != null) {
          return swapped;
        }
        synchronized (this) {
          if (b.residency != Residency.SPILLED && !b.deleted) {
            continue; // loaded back by another request meanwhile: look again
          }
        }
        // Blobs that other requests hold (a reader's pin, an exchange or a write under way) may be let
        // go in a moment, and a run of them then make room: two readers of large spilled blobs at once
        // otherwise failed one of them. Not on an event loop: spilled blobs are read off it.
        if (memoryMayFreeSoon(b)) {
          long now = System.nanoTime();
          if (patience == 0) {
            patience = now + RELOAD_PATIENCE_NANOS;
          }
          if (now < patience) {
            try {
              Thread.sleep(20);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new VineyardException(ErrorCode.UNAVAILABLE, "interrupted waiting for memory to load blob " + new ObjectId(id) + " back");
            }
            continue;
          }
        }
        VineyardException oom = outOfMemory(b.size, failure[0] != null ? failure[0] : swapFailure[0]);
        throw new VineyardException(ErrorCode.OUT_OF_MEMORY, "cannot load blob " + new ObjectId(id) + " back: " + oom.reason(), oom);
      }
      synchronized (this) {
        if (b.residency != Residency.SPILLED || b.deleted) {
          arena.free(target); // someone else loaded it, or it is gone: look again
          continue;
        }
        b.residency = Residency.RELOADING;
        b.range = target;
        b.reloaded = new CompletableFuture<>();
      }
      reload(b, target);
    }
  }

  /**
   * Loads spilled blob {@code b} back in place of resident blobs nobody holds, which take its place
   * in the spill directory: for when neither memory nor the spill directory has room. First one blob
   * at least as large (the least recently used of the smallest: what it has more must be written to
   * the spill directory besides), else a run of blobs side by side ({@link #findWindow}). All are in
   * transit meanwhile (none can be read until it ends). Pins {@code b} for the session.
   *
   * @param failure receives the I/O failure of the exchange, if it failed
   * @return its location, or null when no blob can make room or the exchange failed
   */
  private Location swapIn(Session s, BlobEntry b, IOException[] failure) {
    spilling.lock(); // no spill pass meanwhile: it could pick the same blobs
    try {
      Window one;
      synchronized (this) {
        one = stillSpilled(b) ? take(b, bestFit(b)) : null;
      }
      if (one != null) {
        IOException[] err = {null};
        Location out = exchange(s, b, one, err);
        if (err[0] == null) {
          return out;
        }
        failure[0] = err[0]; // the larger blob's rest did not fit in the spill directory: a run may
      }
      Window run;
      synchronized (this) {
        run = stillSpilled(b) ? take(b, findWindow(b)) : null;
      }
      if (run == null) {
        return null;
      }
      IOException[] err = {null};
      Location out = exchange(s, b, run, err);
      if (out != null || err[0] != null) {
        failure[0] = err[0];
      }
      return out;
    } finally {
      spilling.unlock();
    }
  }

  private static boolean stillSpilled(BlobEntry b) {
    return b.residency == Residency.SPILLED && !b.deleted;
  }

  /** The least recently used of the smallest evictable blobs at least as large as {@code b}, as a window. */
  private Window bestFit(BlobEntry b) {
    BlobEntry v = null;
    for (BlobEntry e : evictable.values()) {
      if (e.domain == b.domain && e.range != null && e.range.size() >= b.size && e.size > 0
          && (v == null || e.range.size() < v.range.size())) {
        v = e;
        if (e.range.size() == b.size) {
          break;
        }
      }
    }
    return v == null ? null : new Window(v.range, List.of(v), List.of());
  }

  /**
   * Takes a window for an exchange with {@code b}: its free gaps from the allocator, its blobs and
   * {@code b} into transit. Null (nothing taken) when a gap was taken meanwhile. Holding the monitor.
   */
  private Window take(BlobEntry b, Window w) {
    if (w == null) {
      return null;
    }
    List<Range> claimed = new ArrayList<>();
    for (Range gap : w.gaps()) {
      if (!arena.claim(gap)) {
        claimed.forEach(arena::free); // taken meanwhile (a reload's target): no exchange
        return null;
      }
      claimed.add(gap);
    }
    for (BlobEntry v : w.blobs()) {
      evictable.remove(v.id);
      v.residency = Residency.RELOADING; // its bytes are being overwritten: not readable until it ends
      v.reloaded = new CompletableFuture<>();
    }
    b.residency = Residency.RELOADING;
    b.reloaded = new CompletableFuture<>();
    return w;
  }

  /** A run of memory an exchange may take: its blobs (none pinned or in use) and free space between them. */
  private record Window(Range range, List<BlobEntry> blobs, List<Range> gaps) {}

  /**
   * The first run of {@code b}'s domain's memory, at least {@code b}'s footprint long, made of
   * blobs nobody holds and of free space (the allocator had no free range that large): for when no
   * single resident blob is as large as the spilled one. Called holding the monitor.
   */
  private Window findWindow(BlobEntry b) {
    long need = MemoryArena.footprint(b.size);
    Map<Integer, List<BlobEntry>> byRegion = new TreeMap<>();
    for (BlobEntry e : blobs.values()) {
      if (e.domain == b.domain && e.range != null && e.range.size() > 0) {
        byRegion.computeIfAbsent(e.range.region(), r -> new ArrayList<>()).add(e);
      }
    }
    // Of the runs that fit, the one that overshoots least: what the run has beyond the blob's room
    // must be written to the spill directory besides, which is full when this is called.
    Window best = null;
    long bestOver = Long.MAX_VALUE;
    for (Map.Entry<Integer, List<BlobEntry>> r : byRegion.entrySet()) {
      List<BlobEntry> inRegion = r.getValue();
      inRegion.sort(java.util.Comparator.comparingLong(e -> e.range.offset()));
      List<BlobEntry> run = new ArrayList<>(); // the evictable blobs since the last one that is not
      long runStart = 0;
      for (int k = 0; k <= inRegion.size(); k++) {
        BlobEntry e = k < inRegion.size() ? inRegion.get(k) : null;
        boolean usable = e != null && evictable.containsKey(e.id) && !e.inTransit();
        if (usable) {
          run.add(e);
          continue;
        }
        // The run [runStart, limit) ends here: try each start in it (the end of each blob before).
        long limit = e == null ? end(run, runStart) : e.range.offset();
        int first = 0;
        for (int j = 0; j <= run.size(); j++) {
          long from = j == 0 ? runStart : end(run.get(j - 1));
          long to = from + need;
          if (to > limit) {
            break;
          }
          while (first < run.size() && end(run.get(first)) <= from) {
            first++;
          }
          // The window ends at `to`, or at the end of the blob that straddles it.
          long windowEnd = to;
          int last = first;
          while (last < run.size() && run.get(last).range.offset() < to) {
            windowEnd = Math.max(windowEnd, end(run.get(last)));
            last++;
          }
          if (windowEnd > limit || last == first) {
            continue; // past the run, or free space only (an allocation would have found it)
          }
          long over = windowEnd - to;
          if (over < bestOver) {
            bestOver = over;
            best = window(r.getKey(), from, windowEnd, run.subList(first, last));
            if (over == 0) {
              return best;
            }
          }
        }
        run = new ArrayList<>();
        runStart = e == null ? 0 : end(e);
      }
    }
    return best;
  }

  private static long end(BlobEntry e) {
    return e.range.offset() + MemoryArena.footprint(e.range.size());
  }

  private static long end(List<BlobEntry> run, long otherwise) {
    return run.isEmpty() ? otherwise : end(run.getLast());
  }

  private static Window window(int region, long start, long end, List<BlobEntry> run) {
    List<Range> gaps = new ArrayList<>();
    long at = start;
    for (BlobEntry e : run) {
      if (e.range.offset() > at) {
        gaps.add(new Range(region, at, e.range.offset() - at));
      }
      at = e.range.offset() + MemoryArena.footprint(e.range.size());
    }
    if (end > at) {
      gaps.add(new Range(region, at, end - at));
    }
    return new Window(new Range(region, start, end - start), List.copyOf(run), gaps);
  }

  /**
   * Exchanges {@code b} with the blobs of a window {@link #take}n for it: {@code b} comes back into
   * the window, and the window's blobs go into the room its file took, each at its place in it.
   * Called holding {@link #spilling}.
   */
  private Location exchange(Session s, BlobEntry b, Window w, IOException[] failure) {
    long start = w.range().offset();
    List<BlobSpiller.Piece> pieces = new ArrayList<>();
    for (BlobEntry v : w.blobs()) {
      pieces.add(new BlobSpiller.Piece(v.id, v.range.offset() - start, v.size));
    }
    IOException err = null;
    try {
      tiering.spiller().swapRun(b.id, b.size, arena.bytes(w.range()), pieces);
    } catch (IOException e) {
      err = e;
    }
    List<CompletableFuture<Void>> done = new ArrayList<>();
    Location out = null;
    synchronized (this) {
      for (BlobEntry v : w.blobs()) {
        done.add(v.reloaded);
        v.reloaded = null;
      }
      done.add(b.reloaded);
      b.reloaded = null;
      if (err != null) {
        w.gaps().forEach(arena::free);
        for (BlobEntry v : w.blobs()) {
          v.residency = Residency.RESIDENT;
          settleAfterTransit(v);
        }
        b.residency = Residency.SPILLED;
        b.range = null;
      } else {
        Range whole = w.range();
        long head = MemoryArena.footprint(b.size);
        b.range = b.size == 0 ? Range.EMPTY : new Range(whole.region(), whole.offset(), b.size);
        if (whole.size() > head) {
          arena.free(new Range(whole.region(), whole.offset() + head, whole.size() - head)); // what the run had more
        }
        b.residency = Residency.RESIDENT;
        spilledBytes -= b.size;
        spilledBlobs--;
        reloads++;
        for (BlobEntry v : w.blobs()) {
          v.range = null;
          v.residency = Residency.SPILLED;
          spilledBytes += v.size;
          spilledBlobs++;
          spillWrites++;
          if (v.deleted && v.pins == 0) {
            removeDeleted(v);
            freeBytes(v); // its place in the spill file
          }
        }
        if (b.deleted && b.pins == 0) {
          removeDeleted(b);
          freeBytes(b);
        } else if (!s.closed) {
          pin(s, b);
          out = new Location(b.id, b.range);
        } else if (b.pins == 0) {
          markEvictable(b);
        }
      }
    }
    done.forEach(f -> f.complete(null));
    failure[0] = err;
    return out;
  }

  /** Reads a spilled blob into {@code target} outside the lock, then makes it resident (or gives up). */
  private void reload(BlobEntry b, Range target) {
    IOException failure = null;
    try {
      tiering.spiller().read(b.id, arena.bytes(target));
    } catch (IOException e) {
      failure = e;
    }
    CompletableFuture<Void> done;
    synchronized (this) {
      done = b.reloaded;
      b.reloaded = null;
      if (failure != null) {
        arena.free(target);
        b.range = null;
        b.residency = Residency.SPILLED;
      } else {
        tiering.spiller().delete(b.id);
        b.residency = Residency.RESIDENT;
        spilledBytes -= b.size;
        spilledBlobs--;
        reloads++;
        if (b.deleted && b.pins == 0) {
          removeDeleted(b);
          freeBytes(b);
        } else if (b.pins == 0) {
          markEvictable(b);
        }
      }
    }
    done.complete(null);
    if (failure != null) {
      throw new VineyardException(
          ErrorCode.IO_ERROR,
          "cannot load blob " + new ObjectId(b.id) + " back from " + tiering.spiller().describe() + ": " + failure);
    }
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
    if (b.pins++ == 0) {
      pinnedBlobs++;
    }
    s.pins.merge(b.id, 1, Integer::sum);
    evictable.remove(b.id);
  }

  private void unpin(BlobEntry b, int count) {
    if (b == null) {
      return;
    }
    int before = b.pins;
    b.pins -= count;
    if (before > 0 && b.pins <= 0) {
      pinnedBlobs--;
    }
    if (b.pins > 0 || b.inTransit()) {
      return; // a blob in transit is settled when its I/O ends
    }
    if (b.deleted) {
      removeDeleted(b);
      freeBytes(b);
    } else {
      markEvictable(b); // most recently used: last to go
    }
  }

  /** Drops a deleted blob whose deletion was deferred (it was pinned or in transit). */
  private void removeDeleted(BlobEntry b) {
    if (blobs.remove(b.id) != null) {
      deferredDeletes--;
    }
  }

  private void markEvictable(BlobEntry b) {
    if (tiering != null && b.sealed && !b.deleted && b.residency == Residency.RESIDENT && b.size > 0) {
      evictable.remove(b.id);
      evictable.put(b.id, b);
    }
  }

  /** Gives back a blob's memory, or its spill file. Not for a blob in transit. */
  private void freeBytes(BlobEntry b) {
    evictable.remove(b.id);
    if (b.residency == Residency.SPILLED) {
      tiering.spiller().delete(b.id);
      b.residency = Residency.RESIDENT;
      spilledBytes -= b.size;
      spilledBlobs--;
    } else if (b.range != null) {
      arena.free(b.range);
    }
    b.range = null;
  }

  // ---------------------------------------------------------------- spilling

  /** Whether resident memory is above the upper mark (then {@link #spillToLowMark} is due). */
  public boolean aboveUpperMark() {
    return tiering != null && arena.used() > tiering.upper() * arena.capacity();
  }

  /**
   * Spills least recently used blobs until memory is at most the lower mark. Blocks on I/O: run it
   * off the event loop, after a create left memory above the upper mark.
   */
  public void spillToLowMark() {
    if (tiering == null) {
      return;
    }
    SpillOutcome o = spill(0, lowMark(), MemoryArena.SHARED);
    if (o.failure != null) {
      LOG.warn("spilling to {} failed, memory stays above the upper mark: {}", tiering.spiller().describe(), o.failure.toString());
    }
  }

  private long lowMark() {
    return tiering == null ? 0 : (long) (tiering.lower() * arena.capacity());
  }

  /**
   * What a spill pass did.
   *
   * @param spilled blobs written out
   * @param raced another pass was running (its work may have made the room)
   * @param failure the I/O failure that stopped it, if any
   */
  private record SpillOutcome(int spilled, boolean raced, IOException failure) {}

  /**
   * Spills evictable blobs, least recently used first, until a block of {@code need} bytes is free
   * and usage is at most {@code target}, or nothing is left to spill. Each blob is marked in transit
   * and written outside the lock; a blob pinned meanwhile stays resident (its file is dropped), one
   * deleted meanwhile is freed.
   */
  private SpillOutcome spill(long need, long target, int domain) {
    boolean raced = spilling.isLocked() && !spilling.isHeldByCurrentThread();
    spilling.lock();
    try {
      int count = 0;
      while (true) {
        BlobEntry victim;
        synchronized (this) {
          if ((arena.largestFree(domain) >= need && arena.used() <= target) || evictable.isEmpty()) {
            return new SpillOutcome(count, raced, null);
          }
          // Stays in line while it is written: if the write fails it keeps its place.
          victim = evictable.values().iterator().next();
          victim.residency = Residency.SPILLING;
        }
        IOException failure = null;
        try {
          tiering.spiller().write(victim.id, arena.bytes(victim.range));
        } catch (IOException e) {
          failure = e;
        }
        synchronized (this) {
          victim.residency = Residency.RESIDENT;
          if (failure != null) {
            settleAfterTransit(victim);
            return new SpillOutcome(count, raced, failure);
          }
          if (victim.pins > 0 || (victim.deleted && victim.pins == 0)) {
            tiering.spiller().delete(victim.id); // wanted again, or gone: the copy on disk is not needed
            settleAfterTransit(victim);
            continue;
          }
          evictable.remove(victim.id);
          arena.free(victim.range);
          victim.range = null;
          victim.residency = Residency.SPILLED;
          spilledBytes += victim.size;
          spilledBlobs++;
          spillWrites++;
          count++;
        }
      }
    } finally {
      spilling.unlock();
    }
  }

  /**
   * A resident blob whose transit ended without moving it: freed if deleted, else back in line if
   * unpinned (where it was, if nothing took it out meanwhile).
   */
  private void settleAfterTransit(BlobEntry b) {
    if (b.deleted && b.pins == 0) {
      removeDeleted(b);
      freeBytes(b);
    } else if (b.pins == 0 && !evictable.containsKey(b.id)) {
      markEvictable(b);
    }
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

  /** What the stored metadata counts against the heap budget (--meta-memory), as {@link RequestLimits#metaBytes} counts it. */
  synchronized long countedMetaBytes() {
    return metaBytes;
  }

  /** Whether the id is a global object of this instance. */
  public synchronized boolean isGlobal(long id) {
    MetaEntry e = objects.get(id);
    return e != null && e.globalTree != null;
  }

  private boolean visible(Long id) {
    if (objects.containsKey(id)) {
      return true;
    }
    BlobEntry b = blobs.get(id);
    return b != null && b.sealed && !b.deleted;
  }

  /**
   * Refuses metadata that breaks a rule or a limit ({@link RequestLimits#checkMeta}), or that would
   * take the stored metadata over its heap budget; returns what it counts for.
   */
  private long checkMeta(ObjectMeta meta) {
    if (meta.typename() == null || meta.typename().isBlank()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an object needs a typename");
    }
    if (meta.typename().equals(ObjectMeta.BLOB_TYPENAME)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "blobs are made with create-blob, not put-meta");
    }
    long bytes = limits.checkMeta(meta);
    if (metaBytes + bytes > limits.metaMemory()) {
      throw new VineyardException(
          ErrorCode.OUT_OF_MEMORY,
          "the daemon's metadata budget is full: stored objects take " + MemorySize.format(metaBytes) + " of "
              + MemorySize.format(limits.metaMemory()) + " (--meta-memory), this one needs " + MemorySize.format(bytes)
              + "; delete objects first");
    }
    return bytes;
  }

  private VineyardException tooDeep(int depth) {
    return new VineyardException(
        ErrorCode.INVALID_ARGUMENT,
        "the object would be " + depth + " levels deep, more than the " + limits.maxDepth()
            + " an object tree may have (--max-depth; a blob is one level)");
  }

  /** Objects of the tree under {@code id}, as {@link MetaEntry#treeObjects} counts them (a blob is 1). */
  private long treeObjectsOf(long id) {
    MetaEntry e = objects.get(id);
    return e == null ? 1 : e.treeObjects;
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return r < 0 ? Long.MAX_VALUE : r;
  }

  /** Objects of a tree given whole, counted up to a little past {@code max} (then it stops walking). */
  static long treeObjects(ObjectMeta root, long max) {
    long n = 0;
    List<ObjectMeta> stack = new ArrayList<>(List.of(root));
    while (!stack.isEmpty() && n <= max) {
      n++;
      stack.addAll(stack.removeLast().members().values());
    }
    return n;
  }

  /** Levels of the tree under {@code id}: a blob 1, an object 1 + its deepest member's. */
  private int depthOf(long id) {
    MetaEntry e = objects.get(id);
    return e == null ? 1 : e.depth;
  }

  /** Stores an object whose members exist already; returns its id. */
  public synchronized long putMeta(ObjectMeta meta) {
    long bytes = checkMeta(meta);
    if (meta.isGlobal()) {
      throw new VineyardException(ErrorCode.INTERNAL, "a global object is stored with putGlobal");
    }
    Map<String, ObjectMeta> refs = new TreeMap<>();
    Set<Long> memberIds = new HashSet<>();
    for (Map.Entry<String, ObjectMeta> m : meta.members().entrySet()) {
      long mid = m.getValue().id().value();
      if (!visible(mid)) {
        BlobEntry b = blobs.get(mid);
        if (b != null && !b.sealed && !b.deleted) {
          throw new VineyardException(
              ErrorCode.NOT_SEALED, "member '" + m.getKey() + "' is blob " + new ObjectId(mid) + ", not sealed yet");
        }
        throw new VineyardException(
            ErrorCode.NOT_FOUND, "member '" + m.getKey() + "' refers to unknown object " + new ObjectId(mid));
      }
      refs.put(m.getKey(), ObjectMeta.reference(new ObjectId(mid)));
      memberIds.add(mid);
    }
    int depth = 1;
    for (long mid : memberIds) {
      depth = Math.max(depth, 1 + depthOf(mid));
    }
    if (depth > limits.maxDepth()) {
      throw tooDeep(depth);
    }
    long treeObjects = 1;
    for (ObjectMeta ref : refs.values()) { // per member name: one object under two names is spelt out twice
      treeObjects = saturatedAdd(treeObjects, treeObjectsOf(ref.id().value()));
    }
    limits.checkTreeObjects(treeObjects);
    long nbytes = meta.nbytes() == 0 ? distinctBlobBytes(memberIds) : meta.nbytes();
    long id = ids.nextObjectId().value();
    ObjectMeta shallow = ObjectMeta.of(new ObjectId(id), meta.typename(), nbytes, instanceId, false, meta.fields(), refs);
    objects.put(id, new MetaEntry(shallow, null, depth, bytes, treeObjects));
    metaBytes += bytes;
    creationOrder.add(id);
    objectOrder.add(id);
    for (long mid : memberIds) {
      parentsOf(mid).add(id);
    }
    return id;
  }

  /**
   * Stores a global object minted here: its members are persisted objects of any instance, given
   * as their full trees (the caller looked them up in the cluster). Returns its id.
   */
  public synchronized long putGlobal(ObjectMeta meta, Map<String, ObjectMeta> memberTrees) {
    long bytes = checkMeta(meta);
    if (memberTrees.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a global object needs at least one member");
    }
    long nbytes = 0;
    int depth = 1;
    long treeObjects = 1;
    Map<String, ObjectMeta> refs = new TreeMap<>();
    for (Map.Entry<String, ObjectMeta> e : memberTrees.entrySet()) {
      nbytes += e.getValue().nbytes();
      refs.put(e.getKey(), ObjectMeta.reference(e.getValue().id()));
      depth = Math.max(depth, 1 + treeDepth(e.getValue()));
      treeObjects = saturatedAdd(treeObjects, treeObjects(e.getValue(), limits.maxTreeObjects()));
      limits.checkTreeObjects(treeObjects);
      bytes += treeBytes(e.getValue());
    }
    if (depth > limits.maxDepth()) {
      throw tooDeep(depth);
    }
    if (metaBytes + bytes > limits.metaMemory()) {
      throw new VineyardException(ErrorCode.OUT_OF_MEMORY,
          "the daemon's metadata budget (--meta-memory " + MemorySize.format(limits.metaMemory()) + ") has no room for this"
              + " global object's " + MemorySize.format(bytes) + "; delete objects first");
    }
    if (meta.nbytes() != 0) {
      nbytes = meta.nbytes();
    }
    ObjectId id = ids.nextObjectId();
    ObjectMeta shallow = ObjectMeta.of(id, meta.typename(), nbytes, instanceId, true, meta.fields(), refs);
    ObjectMeta tree = ObjectMeta.of(id, meta.typename(), nbytes, instanceId, true, meta.fields(), memberTrees);
    objects.put(id.value(), new MetaEntry(shallow, tree, depth, bytes, treeObjects));
    metaBytes += bytes;
    creationOrder.add(id.value());
    objectOrder.add(id.value());
    return id.value();
  }

  /** Levels of a tree given whole (a blob is 1), without recursion: trees from elsewhere may be deep. */
  static int treeDepth(ObjectMeta root) {
    record Level(ObjectMeta meta, int depth) {}
    int max = 0;
    List<Level> stack = new ArrayList<>(List.of(new Level(root, 1)));
    while (!stack.isEmpty()) {
      Level l = stack.removeLast();
      max = Math.max(max, l.depth());
      l.meta().members().values().forEach(m -> stack.add(new Level(m, l.depth() + 1)));
    }
    return max;
  }

  /** What a whole tree counts against the metadata budget. */
  private static long treeBytes(ObjectMeta root) {
    long total = 0;
    List<ObjectMeta> stack = new ArrayList<>(List.of(root));
    while (!stack.isEmpty()) {
      ObjectMeta m = stack.removeLast();
      total += RequestLimits.metaBytes(m);
      stack.addAll(m.members().values());
    }
    return total;
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
      if (e != null && e.globalTree == null) {
        e.shallow.members().values().forEach(m -> stack.add(m.id().value()));
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

  /**
   * The object's metadata with every member expanded. A member that appears at several places of
   * the tree is expanded once and the same instance shared, so the heap this takes grows with the
   * distinct objects of the tree (what spells it out, an encoder, is bounded by
   * {@link RequestLimits#maxTreeObjects} and by the size an answer may take).
   */
  public synchronized ObjectMeta getMeta(long id) {
    return expand(id, null);
  }

  private ObjectMeta expand(long id, Map<Long, ObjectMeta> done) {
    MetaEntry e = objects.get(id);
    if (e == null) {
      return blobMeta(sealedBlob(id));
    }
    if (e.globalTree != null) {
      return e.globalTree;
    }
    if (e.shallow.members().isEmpty()) {
      return e.shallow;
    }
    Map<Long, ObjectMeta> expanded = done == null ? new HashMap<>() : done;
    ObjectMeta known = expanded.get(id);
    if (known != null) {
      return known;
    }
    Map<String, ObjectMeta> members = new TreeMap<>();
    e.shallow.members().forEach((name, ref) -> members.put(name, expand(ref.id().value(), expanded)));
    ObjectMeta s = e.shallow;
    ObjectMeta tree = ObjectMeta.of(s.id(), s.typename(), s.nbytes(), s.instanceId(), false, s.fields(), members);
    expanded.put(id, tree);
    return tree;
  }

  private ObjectMeta blobMeta(BlobEntry b) {
    return ObjectMeta.of(new ObjectId(b.id), ObjectMeta.BLOB_TYPENAME, b.size, instanceId, false, Map.of(), Map.of());
  }

  /** Lists visible objects whose typename matches the glob, oldest first, members as references. */
  public Listing list(String typenameGlob, int limit) {
    return list(typenameGlob, limit, false);
  }

  /**
   * As {@link #list(String, int)}; with {@code topLevel}, leaves out members of other objects before
   * the limit.
   *
   * <p>With a pattern, the store's lock is held only to copy the ids and typenames in creation order
   * and, afterwards, to look up the objects that matched: the matching runs outside it (each distinct
   * typename is matched once), so a listing of many objects never holds up other clients.
   */
  public Listing list(String typenameGlob, int limit, boolean topLevel) {
    return list(typenameGlob, limit, topLevel, Long.MAX_VALUE);
  }

  /**
   * As {@link #list(String, int, boolean)}, or null when matching the pattern would cost more than
   * {@code budget} (characters of distinct typenames matched, times the pattern's length in 64s):
   * the caller is an event loop, which must not spend long on one listing, and lists again off it.
   */
  public Listing list(String typenameGlob, int limit, boolean topLevel, long budget) {
    Glob p = typenameGlob == null || typenameGlob.isEmpty() ? null : new Glob(typenameGlob);
    int max = limit <= 0 ? defaultListLimit : limit;
    if (p == null) {
      synchronized (this) {
        return collect(creationOrder, max, topLevel);
      }
    }
    // A pattern no blob matches walks the objects only, not every blob (under load, building
    // metadata for every blob was most of the daemon's garbage and of this lock's hold time).
    boolean blobsMatch = p.matches(ObjectMeta.BLOB_TYPENAME);
    // The ids stay the boxed keys of the tables (new boxes for every id were much of a listing's garbage).
    Long[] order;
    String[] types;
    synchronized (this) {
      Collection<Long> source = blobsMatch ? creationOrder : objectOrder;
      order = new Long[source.size()];
      types = new String[order.length];
      int i = 0;
      for (Long id : source) {
        MetaEntry e = objects.get(id);
        order[i] = id;
        types[i++] = e != null ? e.shallow.typename() : ObjectMeta.BLOB_TYPENAME;
      }
    }
    Map<String, Boolean> seen = new HashMap<>();
    java.util.function.Function<String, Boolean> match = p::matches; // once: a method reference in the loop is an object an id
    int matched = 0;
    long perChar = 1 + typenameGlob.length() / 64;
    long cost = 0;
    for (int i = 0; i < order.length; i++) {
      if (!seen.containsKey(types[i])) {
        cost += types[i].length() * perChar;
        if (cost > budget) {
          return null;
        }
      }
      if (seen.computeIfAbsent(types[i], match)) {
        order[matched++] = order[i];
      }
    }
    synchronized (this) {
      return collect(Arrays.asList(order).subList(0, matched), max, topLevel);
    }
  }

  /** Up to {@code max} of the ids that are still visible (and top-level, if asked), in their order. */
  private Listing collect(Collection<Long> ids, int max, boolean topLevel) {
    List<ObjectInfo> out = new ArrayList<>();
    for (Long id : ids) {
      if (!visible(id) || (topLevel && !parentsOf(id).isEmpty())) {
        continue;
      }
      if (out.size() == max) {
        return new Listing(out, true);
      }
      MetaEntry e = objects.get(id);
      ObjectMeta m = e != null ? e.shallow : blobMeta(blobs.get(id));
      TreeSet<String> n = namesById.get(id);
      out.add(new ObjectInfo(m, n == null ? List.of() : List.copyOf(n)));
    }
    return new Listing(out, false);
  }

  /** Objects and sealed blobs listed without a pattern: what a listing may have to match. */
  public synchronized int listableCount() {
    return creationOrder.size();
  }

  /**
   * Deletes objects and blobs. Without {@code force}, fails (deleting nothing) if any of them is a
   * member of an object not also being deleted. With {@code force}, objects that reference them are
   * deleted too. With {@code deep}, members left unreferenced are deleted too: members of the targets,
   * and their members in turn, that no object outside the delete references.
   *
   * <p>All or nothing: what is deleted is worked out and checked first, then deleted in one step
   * that cannot fail, so an error never comes after a part was deleted. No step recurses, whatever
   * the depth of the trees.
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
                new ObjectId(id) + " is a member of " + new ObjectId(parent) + "; delete that first, or force the delete (vineyardctl rm --force)");
          }
        }
      }
    }
    // In the order asked, then (with force) every object that references a doomed one, up to the roots.
    Set<Long> doomed = new LinkedHashSet<>(targets);
    if (force) {
      List<Long> work = new ArrayList<>(doomed);
      for (int i = 0; i < work.size(); i++) {
        for (long parent : parentsOf(work.get(i))) {
          if (doomed.add(parent)) {
            work.add(parent);
          }
        }
      }
    }
    if (deep) {
      // Members of the targets, and of members deleted this way, once every object that references
      // them is doomed. A member whose last live referrer becomes doomed later is a member of that
      // referrer, so it is looked at again when that one is expanded.
      List<Long> expand = new ArrayList<>(requested);
      while (!expand.isEmpty()) {
        MetaEntry e = objects.get(expand.removeLast());
        if (e == null || e.globalTree != null) {
          continue; // a blob, or a global object whose members live elsewhere
        }
        for (ObjectMeta ref : e.shallow.members().values()) {
          long mid = ref.id().value();
          if (visible(mid) && !doomed.contains(mid) && doomed.containsAll(parentsOf(mid))) {
            doomed.add(mid);
            expand.add(mid);
          }
        }
      }
    }
    List<Long> deleted = new ArrayList<>(doomed.size());
    List<Long> deferred = new ArrayList<>();
    for (long id : doomed) {
      removeOne(id, doomed, deleted, deferred);
    }
    return new DeleteResult(deleted, deferred);
  }

  /** Removes one object of a delete whose set is worked out: its names, its links, its memory. */
  private void removeOne(long id, Set<Long> doomed, List<Long> deleted, List<Long> deferred) {
    dropNamesOf(id);
    creationOrder.remove(id);
    deleted.add(id);
    MetaEntry e = objects.remove(id);
    if (e != null) {
      metaBytes -= e.metaBytes;
      objectOrder.remove(id);
      if (e.globalTree != null) {
        return; // its members live elsewhere and are not ours
      }
      for (ObjectMeta ref : e.shallow.members().values()) {
        MetaEntry me = objects.get(ref.id().value());
        BlobEntry mb = me == null ? blobs.get(ref.id().value()) : null;
        if (me != null) {
          me.parents.remove(id);
        } else if (mb != null) {
          mb.parents.remove(id);
        }
      }
      return;
    }
    BlobEntry b = blobs.get(id);
    if (b.pins > 0 || b.inTransit()) {
      b.deleted = true;
      deferredDeletes++;
      evictable.remove(b.id);
      deferred.add(id);
    } else {
      blobs.remove(id);
      freeBytes(b);
    }
  }

  // ---------------------------------------------------------------- names

  public synchronized void putName(String name, long id) {
    limits.checkName(name);
    if (!visible(id)) {
      throw notFound(id);
    }
    if (!names.containsKey(name)) {
      // Names take heap as metadata does (about 200k names of 4 KiB filled a 512 MiB heap): the same budget.
      long bytes = RequestLimits.nameBytes(name);
      if (metaBytes + bytes > limits.metaMemory()) {
        throw new VineyardException(ErrorCode.OUT_OF_MEMORY,
            "the daemon's metadata budget is full: stored objects and names take " + MemorySize.format(metaBytes) + " of "
                + MemorySize.format(limits.metaMemory()) + " (--meta-memory); drop names or delete objects first");
      }
      metaBytes += bytes;
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
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + RequestLimits.echo(name) + "'");
    }
    return id;
  }

  public synchronized void dropName(String name) {
    checkName(name);
    Long id = names.remove(name);
    if (id == null) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "no object is named '" + RequestLimits.echo(name) + "'");
    }
    metaBytes -= RequestLimits.nameBytes(name);
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
      for (String name : n) {
        names.remove(name);
        metaBytes -= RequestLimits.nameBytes(name);
      }
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

  /** A name must be printable on one line of a log or a terminal: not empty, no control characters. */
  public static void checkName(String name) {
    if (name == null || name.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a name must not be empty");
    }
    int bad = Escapes.firstUnsafe(name);
    if (bad >= 0) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "a name must not contain control characters, line separators or bidirectional overrides: "
              + RequestLimits.echo(name) + " has " + Escapes.printable(String.valueOf(name.charAt(bad))) + " at index " + bad);
    }
  }

  // ---------------------------------------------------------------- stats

  public synchronized StoreStats stats() {
    long pinned = pinnedBlobs;
    long blobCount = blobs.size() - deferredDeletes;
    Runtime rt = Runtime.getRuntime();
    return new StoreStats(
        instanceId,
        arena.capacity(),
        arena.used(),
        creationOrder.size(),
        blobCount,
        unsealedCount,
        pinned,
        sessions.size(),
        names.size(),
        rt.totalMemory() - rt.freeMemory(),
        rt.maxMemory(),
        arena.largestFree(),
        spilledBytes,
        spilledBlobs,
        spillWrites,
        reloads,
        DirectMemory.used());
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
