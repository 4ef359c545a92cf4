package io.vineyard.server.memory;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import io.vineyard.internal.Libc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of the daemon's shared memory: the region files (in a directory private to this
 * daemon, {@code <shm-dir>/vineyardd-<pid>}, mode 0700), their descriptors, their mappings, and the
 * allocator of each. Everything else names a blob's bytes by a {@link Range} and asks the arena for
 * them; nothing else opens, maps or frees shared memory.
 *
 * <p>An arena starts with one region and can grow by more ({@link #addRegion}); a range never
 * spans two regions. Regions belong to a <em>trust domain</em>: {@link #SHARED} (the daemon's own,
 * and every client's when clients are not isolated), or one per user when they are: a client
 * writing in place is handed a writable descriptor of its own domain's region only, so it cannot
 * reach other users' blobs. A user's region is made on its first allocation, as large as the whole
 * budget (a sparse file: tmpfs pages are taken only as they are written); every region draws on one
 * budget, {@link #capacity}. Allocation and free are not thread-safe (the object store serializes them);
 * {@link #bytes}, {@link #region}, {@link #used} and {@link #capacity} may be called from any thread.
 */
public final class MemoryArena implements AutoCloseable {

  /** Where a blob's bytes live: {@code size} bytes at {@code offset} in region {@code region}. */
  public record Range(int region, long offset, long size) {
    /** The range of an empty blob: no memory at all. */
    public static final Range EMPTY = new Range(0, 0, 0);
  }

  /**
   * A region as clients see it: an id, a size and its two descriptors: read-write, for a client
   * writing a blob in place, and read-only, for every client that reads (a mapping of that one
   * cannot be made writable).
   */
  public record RegionInfo(int id, long size, int fd, int readOnlyFd) {
    /** The descriptor for a client that writes ({@code writable}) or only reads. */
    public int fd(boolean writable) {
      return writable ? fd : readOnlyFd;
    }
  }

  /** The trust domain of the daemon itself, and of every client when clients are not isolated. */
  public static final int SHARED = -1;

  private static final class Region {
    final int id;
    final int domain;
    final SharedMemory memory;
    final BlobAllocator allocator;

    Region(int id, int domain, SharedMemory memory) {
      this.id = id;
      this.domain = domain;
      this.memory = memory;
      this.allocator = new BlobAllocator(memory.size());
    }
  }

  private static final Logger LOG = LoggerFactory.getLogger(MemoryArena.class);
  private static final long PAGE = 4096;
  private static final long TRIM_STEP = 2L << 20;
  private static final int FALLOC_FL_KEEP_SIZE = 0x01;
  private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
  /** An automatic trim waits this long after the free that called for it (the rest of a burst of deletes). */
  static final long AUTO_TRIM_DELAY_MILLIS = 1000;

  private final Path dir;
  private final List<Region> regions = new CopyOnWriteArrayList<>();
  /**
   * Serializes the allocators: the store calls allocate and free under its own lock, and a trim
   * (on its own thread) takes only this one, a step at a time.
   */
  private final Object allocation = new Object();
  private final AtomicLong freedSinceTrim = new AtomicLong();
  private final AtomicBoolean trimScheduled = new AtomicBoolean();
  private final AtomicLong trims = new AtomicLong();
  private volatile long trimAfter;
  /** When the last allocation was asked for (System.nanoTime). */
  private volatile long lastAllocation = System.nanoTime();
  private final ScheduledExecutorService trimmer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "vineyardd-trim");
    t.setDaemon(true);
    return t;
  });
  /** What all regions together may hold: the sizes of the shared regions. */
  private volatile long budget;
  private volatile boolean closed;

  private MemoryArena(Path dir) {
    this.dir = dir;
  }

  /**
   * Creates an arena with one region of {@code size} bytes under {@code shmDir}.
   *
   * @param reserve allocate and pre-fault every page now
   */
  public static MemoryArena create(Path shmDir, long size, boolean reserve) {
    if (size <= 0) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "shared memory size must be positive: " + size);
    }
    Path dir;
    try {
      dir = PrivateDirectory.create(shmDir);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.IO_ERROR, "cannot create shared-memory directory under " + shmDir + ": " + e, e);
    }
    MemoryArena arena = new MemoryArena(dir);
    try {
      arena.addRegion(size, reserve);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
    return arena;
  }

  /** Adds a shared region of {@code size} bytes to the budget; returns its id. Call under the same lock as allocation. */
  public int addRegion(long size, boolean reserve) {
    ensureOpen();
    int id = regions.size();
    regions.add(new Region(id, SHARED, SharedMemory.create(dir.resolve("region-" + id), size, reserve)));
    budget += size;
    return id;
  }

  /** Makes the region of a user's trust domain, drawing on the existing budget. */
  private Region addDomainRegion(int domain) {
    int id = regions.size();
    Region r = new Region(id, domain, SharedMemory.create(dir.resolve("region-" + id + "-uid-" + domain), budget, false));
    regions.add(r);
    return r;
  }

  /** Bytes a request of {@code size} occupies (alignment included). */
  public static long footprint(long size) {
    return size == 0 ? 0 : BlobAllocator.footprint(size);
  }

  /** Allocates {@code size} bytes in a shared region; see {@link #allocate(long, int)}. */
  public Range allocate(long size) {
    return allocate(size, SHARED);
  }

  /**
   * Allocates {@code size} bytes in the first region of {@code domain} where they fit (making the
   * domain's region first if it has none), within the budget.
   *
   * @return the range, or {@code null} when the budget or the domain's regions have no room
   */
  public Range allocate(long size, int domain) {
    ensureOpen();
    if (size == 0) {
      return Range.EMPTY;
    }
    if (used() + footprint(size) > budget) {
      return null;
    }
    lastAllocation = System.nanoTime();
    synchronized (allocation) {
      boolean any = false;
      for (Region r : regions) {
        if (r.domain != domain) {
          continue;
        }
        any = true;
        long offset = r.allocator.allocate(size);
        if (offset >= 0) {
          return new Range(r.id, offset, size);
        }
      }
      if (!any && domain != SHARED) {
        Region r = addDomainRegion(domain);
        long offset = r.allocator.allocate(size);
        return offset >= 0 ? new Range(r.id, offset, size) : null;
      }
      return null;
    }
  }

  /**
   * Takes a given free range, as {@link BlobAllocator#claim}, within the budget.
   *
   * @return whether it was taken (false: some of it is in use, or the budget has no room)
   */
  public boolean claim(Range range) {
    ensureOpen();
    if (range.size() == 0) {
      return true;
    }
    if (used() + footprint(range.size()) > budget) {
      return false;
    }
    synchronized (allocation) {
      return region(range).allocator.claim(range.offset(), range.size());
    }
  }

  /** Gives back a range returned by {@link #allocate} or {@link #claim} (or a part of one). */
  public void free(Range range) {
    if (range.size() == 0 || closed) {
      return;
    }
    synchronized (allocation) {
      region(range).allocator.free(range.offset(), range.size());
    }
    long freed = freedSinceTrim.addAndGet(footprint(range.size()));
    if (trimAfter > 0 && freed >= trimAfter && trimScheduled.compareAndSet(false, true)) {
      trimmer.schedule(this::autoTrim, AUTO_TRIM_DELAY_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * The automatic trim: once nothing has been allocated for {@link #AUTO_TRIM_DELAY_MILLIS}. While
   * blobs are being created the freed pages are kept (they are reused warm; a trim would make the
   * next creates fault them in again, and its steps would wait on the allocators meanwhile).
   */
  private void autoTrim() {
    if (closed) {
      return;
    }
    long quiet = (System.nanoTime() - lastAllocation) / 1_000_000;
    if (quiet < AUTO_TRIM_DELAY_MILLIS) {
      trimmer.schedule(this::autoTrim, AUTO_TRIM_DELAY_MILLIS - quiet, TimeUnit.MILLISECONDS);
      return;
    }
    trimScheduled.set(false);
    long freed = freedSinceTrim.get();
    try {
      long n = trim(true);
      LOG.debug("automatic trim after {} freed: {} of free pages given back", MemorySize.format(freed), MemorySize.format(n));
    } catch (RuntimeException e) {
      LOG.warn("automatic trim failed: {}", e.toString());
    }
  }

  /**
   * Gives the pages of every free range back to the system: punches holes in the region files
   * ({@code fallocate(FALLOC_FL_PUNCH_HOLE)}), so tmpfs frees them and they leave every process's
   * resident set. A blob created there later faults fresh pages in (slower to write the first time:
   * about 0.35 GB/s against 11 GB/s for resident ones on a 2-vCPU VM). Works 2 MiB at a time, each
   * step holding the allocator for only that step, so creates and deletes go on meanwhile.
   *
   * @return bytes of free ranges punched (pages that were not resident count too)
   */
  public long trim() {
    return trim(false);
  }

  /** @param yielding stop as soon as something is allocated (the automatic trim gives way to the load) */
  private long trim(boolean yielding) {
    ensureOpen();
    long punched = 0;
    long started = System.nanoTime();
    freedSinceTrim.set(0);
    for (Region r : regions) {
      long cursor = 0;
      while (!closed) {
        if (yielding && lastAllocation - started > 0) {
          freedSinceTrim.addAndGet(trimAfter); // not done: the next free tries again
          return punched;
        }
        synchronized (allocation) {
          long[] free = r.allocator.freeRangeEndingAfter(cursor);
          if (free == null) {
            break;
          }
          long start = Math.max(free[0], cursor);
          long end = free[0] + free[1];
          long from = (start + PAGE - 1) & -PAGE;
          long to = Math.min(end, from + TRIM_STEP) & -PAGE;
          if (to > from) {
            if (Libc.fallocate(r.memory.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from, to - from) != 0) {
              throw new VineyardException(ErrorCode.IO_ERROR, "cannot give free pages of " + r.memory.file() + " back: "
                  + Libc.strerror(Libc.lastErrno()));
            }
            punched += to - from;
            cursor = to;
          } else {
            cursor = end;
          }
        }
      }
    }
    trims.incrementAndGet();
    return punched;
  }

  /**
   * Trims by itself once this many bytes have been freed since the last trim and nothing has been
   * allocated for a second (0: never by itself).
   */
  public void trimAfter(long bytes) {
    this.trimAfter = bytes;
  }

  /** {@link #trim} on the arena's own thread. */
  public CompletableFuture<Long> trimAsync() {
    return CompletableFuture.supplyAsync(this::trim, trimmer);
  }

  /** Trims done since the arena was made. */
  public long trimCount() {
    return trims.get();
  }

  /** The daemon's read-write view of a range. */
  public MemorySegment bytes(Range range) {
    if (range.size() == 0) {
      return MemorySegment.NULL;
    }
    ensureOpen();
    return region(range).memory.mapping().asSlice(range.offset(), range.size());
  }

  /** The region a client maps to reach a range: its id, size and descriptor. */
  public RegionInfo region(int id) {
    if (id < 0 || id >= regions.size()) {
      throw new VineyardException(ErrorCode.INTERNAL, "no shared-memory region " + id);
    }
    Region r = regions.get(id);
    return new RegionInfo(r.id, r.memory.size(), r.memory.fd(), r.memory.readOnlyFd());
  }

  private Region region(Range range) {
    if (range.region() < 0 || range.region() >= regions.size()) {
      throw new VineyardException(ErrorCode.INTERNAL, "no shared-memory region " + range.region());
    }
    return regions.get(range.region());
  }

  public int regionCount() {
    return regions.size();
  }

  /** What every region together may hold (the shared regions' sizes). */
  public long capacity() {
    return budget;
  }

  /** Bytes handed out, alignment included; read without any lock. */
  public long used() {
    long u = 0;
    for (Region r : regions) {
      u += r.allocator.used();
    }
    return u;
  }

  public long free() {
    return capacity() - used();
  }

  /** The largest single request in a shared region that would succeed now. */
  public long largestFree() {
    return largestFree(SHARED);
  }

  /** The largest single request of {@code domain} that would succeed now. */
  public long largestFree(int domain) {
    long m = 0;
    boolean any = false;
    for (Region r : regions) {
      if (r.domain == domain) {
        any = true;
        m = Math.max(m, r.allocator.largestFree());
      }
    }
    if (!any && domain != SHARED) {
      m = budget;
    }
    return Math.max(0, Math.min(m, budget - used()));
  }

  /** The private directory holding the region files. */
  public Path directory() {
    return dir;
  }

  /** A sentence for an out-of-memory message: what is free and the largest block. */
  public String describeFree() {
    return MemorySize.format(free()) + " free of " + MemorySize.format(capacity()) + ", largest free block "
        + MemorySize.format(largestFree());
  }

  private void ensureOpen() {
    if (closed) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "vineyardd is shutting down: its shared memory is gone");
    }
  }

  /** Unmaps every region, closes the descriptors and removes the files. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    trimmer.shutdownNow();
    for (Region r : regions) {
      r.memory.close();
    }
    PrivateDirectory.deleteTree(dir);
  }
}
