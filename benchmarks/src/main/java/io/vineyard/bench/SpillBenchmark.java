package io.vineyard.bench;

import static io.vineyard.bench.Measure.deadline;
import static io.vineyard.bench.Measure.fmt;
import static io.vineyard.bench.Measure.gbps;
import static io.vineyard.bench.Measure.num;
import static io.vineyard.bench.Measure.round;

import io.vineyard.ObjectId;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The spill benchmark: measures, against a running {@code vineyardd} started with
 * {@code --spill-dir}, in one run:
 *
 * <ul>
 *   <li>the put bandwidth of 64 MiB blobs with no memory pressure (the baseline);
 *   <li>the put bandwidth of 64 MiB blobs kept until about three times the daemon's memory is
 *       stored, so that the daemon spills older blobs to make room;
 *   <li>the reload bandwidth (getBlob of a spilled blob + read one byte + close), against reading
 *       the same number of bytes with plain {@code FileChannel.read} from files of the same size that
 *       the harness wrote in the same spill directory, the two alternating blob by blob;
 *   <li>optionally, the same comparison with a cold page cache ({@code --cold-cache}).
 * </ul>
 *
 * <p>Every reloaded blob is checked against what was put (CRC32C of all of it), within a time budget.
 * Prints a table and writes a JSON file. Nothing is asserted. Every loop is bounded both in
 * iterations and in time.
 *
 * <p>Usage: {@code SpillBenchmark --socket PATH --spill-dir DIR [--daemon-pid PID] [--quick]
 * [--cold-cache] [--out FILE] [--setting KEY=VALUE ...]}. {@code --spill-dir} is the directory the
 * daemon was given; the harness writes its own files in it too.
 */
public final class SpillBenchmark {

  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long GIB = 1024 * MIB;

  /** The blob size of every phase. */
  static final long BLOB = 64 * MIB;
  /** Blob i holds the source's bytes from (i % SHIFTS) MiB on: every blob differs, and stays checkable. */
  static final int SHIFTS = 64;
  /** How much the spilling client makes the daemon spill while the bystander measures. */
  static final long SPILL_DURING_BYSTANDER = GIB;
  /** The bystander's blob. */
  static final int BYSTANDER_BLOB = 4 * 1024;
  /** The bystander waits this long between gets (so it measures latency, not a loop that takes a CPU). */
  static final long BYSTANDER_PAUSE_NANOS = 200_000;
  /** At most this many bystander gets per window (of each kind, per round). */
  static final int BYSTANDER_MAX_SAMPLES = 200_000;
  static final double TARGET_BYSTANDER_P99_RATIO = 5;

  /** The same chunk as the daemon's spill files use for reads and writes. */
  static final int CHUNK = 64 << 20;

  /** Iteration and time bounds of one mode. */
  record Plan(
      String mode,
      int jitWarmupOps,
      double jitWarmupSeconds,
      int baselineWarmups,
      int baselineReps,
      double baselineSeconds,
      double pressureFactor,
      double pressureSeconds,
      int reloadUnderPressure,
      int reloadReps,
      double reloadSeconds,
      int coldReps,
      double verifySeconds,
      int memcpyReps,
      int bystanderWarmup,
      int bystanderRounds,
      double bystanderQuietSeconds,
      double bystanderSpillSeconds,
      double bystanderSeconds) {

    static Plan quick() {
      return new Plan("quick", 2_000, 2, 3, 15, 10, 3.0, 45, 3, 12, 20, 4, 10, 5, 3_000, 3, 1.5, 30, 60);
    }

    static Plan full() {
      return new Plan("full", 5_000, 5, 5, 60, 30, 3.0, 120, 5, 30, 60, 8, 30, 10, 5_000, 5, 2, 45, 120);
    }
  }

  private final Plan plan;
  private final Path socket;
  private final Path spillRoot;
  private final long daemonPid;
  private final boolean coldCache;
  private final Map<String, String> settings;
  private final Map<String, Object> results = new LinkedHashMap<>();
  private final Map<String, Object> pageCache = new LinkedHashMap<>();
  private final Map<String, Object> details = new LinkedHashMap<>();
  private final Map<String, Object> meminfo = new LinkedHashMap<>();
  private final List<String> errors = new ArrayList<>();
  private final Map<Integer, Long> expectedCrc = new HashMap<>();
  /** Blobs of this run that the daemon still holds, in put order. */
  private final Set<ObjectId> live = new LinkedHashSet<>();
  private StoreStats firstStats;
  private Path benchFiles;
  private int verified;
  private int verifyFailures;
  private int verifySkipped;

  private SpillBenchmark(
      Plan plan, Path socket, Path spillRoot, long daemonPid, boolean coldCache, Map<String, String> settings) {
    this.plan = plan;
    this.socket = socket;
    this.spillRoot = spillRoot;
    this.daemonPid = daemonPid;
    this.coldCache = coldCache;
    this.settings = settings;
  }

  public static void main(String[] args) throws IOException {
    Path socket = null;
    Path spillDir = null;
    long daemonPid = -1;
    boolean quick = false;
    boolean cold = false;
    Path out = Path.of("benchmarks", "results", "spill-latest.json");
    Map<String, String> settings = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--quick" -> quick = true;
        case "--cold-cache" -> cold = true;
        case "--socket" -> socket = Path.of(value(args, ++i, a));
        case "--spill-dir" -> spillDir = Path.of(value(args, ++i, a));
        case "--daemon-pid" -> daemonPid = Long.parseLong(value(args, ++i, a));
        case "--out" -> out = Path.of(value(args, ++i, a));
        case "--setting" -> {
          String kv = value(args, ++i, a);
          int eq = kv.indexOf('=');
          if (eq <= 0) {
            usage("--setting takes KEY=VALUE, got " + kv);
          }
          settings.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        case "-h", "--help" -> usage(null);
        default -> usage("unknown argument " + a);
      }
    }
    if (socket == null) {
      socket = IpcClient.defaultSocket();
    }
    if (spillDir == null) {
      usage("--spill-dir is required (the directory the daemon spills to)");
    }
    SpillBenchmark b =
        new SpillBenchmark(quick ? Plan.quick() : Plan.full(), socket, spillDir, daemonPid, cold, settings);
    System.exit(b.run(out));
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      usage(flag + " needs a value");
    }
    return args[i];
  }

  private static void usage(String why) {
    if (why != null) {
      System.err.println("SpillBenchmark: " + why);
    }
    System.err.println("usage: SpillBenchmark --socket PATH --spill-dir DIR [--daemon-pid PID] [--quick] [--cold-cache]"
        + " [--out FILE] [--setting KEY=VALUE ...]");
    System.exit(why == null ? 0 : 2);
  }

  // ---------------------------------------------------------------- run

  private int run(Path out) throws IOException {
    long started = System.nanoTime();
    Instant startedAt = Instant.now();
    log("mode %s, daemon at %s, spill directory %s", plan.mode, socket, spillRoot);
    benchFiles = spillRoot.resolve("bench-files-" + ProcessHandle.current().pid());
    try (IpcClient client = IpcClient.connect(socket, Duration.ofMinutes(2), "spill-bench");
        Arena arena = Arena.ofShared()) {
      firstStats = client.stats();
      if (firstStats.blobCount() != 0 || firstStats.spilledBlobCount() != 0) {
        errors.add("the daemon is not empty (" + firstStats.blobCount() + " blobs, " + firstStats.spilledBlobCount()
            + " spilled): the phases assume a private daemon");
      }
      Files.createDirectories(benchFiles);
      // The source of every put and every harness file: SHIFTS MiB more than a blob, pre-filled.
      MemorySegment src = arena.allocate(BLOB + SHIFTS * MIB, 4096);
      fillPattern(src);
      // Where plain file reads land (and the memcpy reference): pre-touched.
      MemorySegment dst = arena.allocate(BLOB, 4096);
      dst.fill((byte) 1);
      snapshotMeminfo("start");

      phase("jit_warmup", () -> jitWarmup(client));
      phase("memcpy", () -> memcpy(src, dst));
      Samples baseTotal = new Samples(2 * plan.baselineReps);
      Samples baseCreate = new Samples(2 * plan.baselineReps);
      Samples baseSeal = new Samples(2 * plan.baselineReps);
      phase("baseline_put", () -> baselinePuts(client, src, baseTotal, baseCreate, baseSeal, "before"));
      List<ObjectId> ids = new ArrayList<>();
      phase("pressure_put", () -> pressurePuts(client, src, ids));
      snapshotMeminfo("after_pressure_put");
      if (!ids.isEmpty()) {
        phase("reload", () -> reloads(client, src, dst, ids));
      }
      deleteLive(client);
      phase("bystander", () -> bystander(client, src));
      StoreStats end = client.stats();
      details.put("daemon_spill_writes_total", end.spillWrites());
      details.put("daemon_reloads_total", end.reloads());
      details.put("daemon_heap_mib_end", round(end.heapUsedBytes() / (double) MIB, 1));
      deleteLive(client);
      // The baseline again, on the emptied arena, with the page cache as the run left it.
      phase("baseline_put_again", () -> baselinePuts(client, src, baseTotal, baseCreate, baseSeal, "after"));
      baselineResults(baseTotal, baseCreate, baseSeal);
      StoreStats after = client.stats();
      details.put("daemon_blobs_left", after.blobCount());
      details.put("daemon_spilled_blobs_left", after.spilledBlobCount());
    } catch (RuntimeException e) {
      errors.add("fatal: " + e);
      e.printStackTrace();
    } finally {
      deleteTree(benchFiles);
    }
    snapshotMeminfo("end");
    double seconds = (System.nanoTime() - started) / 1e9;

    Map<String, Object> json = assemble(startedAt, seconds);
    printTable(json);
    Measure.writeResults(out, json);
    return errors.isEmpty() ? 0 : 1;
  }

  private void phase(String name, Runnable body) {
    Measure.phase("spill-bench", name, body, errors, details);
  }

  /** Every 8-byte word differs from its neighbours, so a shifted or misplaced copy changes the CRC. */
  private static void fillPattern(MemorySegment seg) {
    long words = seg.byteSize() / 8;
    for (long k = 0; k < words; k++) {
      long x = k * 0x9E3779B97F4A7C15L;
      seg.set(ValueLayout.JAVA_LONG, k * 8, x ^ (x >>> 31));
    }
  }

  private static long shiftOf(int i) {
    return (i % SHIFTS) * MIB;
  }

  // ---------------------------------------------------------------- warm-up and reference

  /** Small create/seal/get/close/delete cycles, so that the daemon's request path is compiled. */
  private void jitWarmup(IpcClient client) {
    byte[] bytes = new byte[4096];
    long deadline = deadline(plan.jitWarmupSeconds);
    int ops = 0;
    long sink = 0;
    while (ops < plan.jitWarmupOps && System.nanoTime() < deadline) {
      ObjectId id = client.putBlob(bytes);
      try (Blob b = client.getBlob(id)) {
        sink += b.segment().get(ValueLayout.JAVA_BYTE, 4095);
      }
      client.delete(id);
      if (++ops % 100 == 0) {
        client.stats();
      }
    }
    details.put("jit_warmup_ops", ops);
    details.put("sink_warmup", sink & 0xff);
  }

  /** For reference only: MemorySegment.copy of one blob's worth between pre-touched segments. */
  private void memcpy(MemorySegment src, MemorySegment dst) {
    MemorySegment from = src.asSlice(0, BLOB);
    MemorySegment.copy(from, 0, dst, 0, BLOB);
    Samples s = new Samples(plan.memcpyReps);
    long deadline = deadline(5);
    while (!s.isFull() && (s.count() < 3 || System.nanoTime() < deadline)) {
      long t0 = System.nanoTime();
      MemorySegment.copy(from, 0, dst, 0, BLOB);
      s.add(System.nanoTime() - t0);
    }
    details.put("memcpy_64MiB_gbps", round(gbps(BLOB, s.median()), 3));
    log("memcpy 64 MiB: median %.2f GB/s (%d reps)", gbps(BLOB, s.median()), s.count());
  }

  // ---------------------------------------------------------------- puts

  /** One timed put: {create, copy, seal} nanoseconds go to {@code t}. */
  private static ObjectId timedPut(IpcClient client, MemorySegment src, int i, long[] t) {
    long t0 = System.nanoTime();
    ObjectId id;
    long t1;
    long t2;
    try (BlobWriter w = client.createBlob(BLOB)) {
      t1 = System.nanoTime();
      MemorySegment.copy(src, shiftOf(i), w.segment(), 0, BLOB);
      t2 = System.nanoTime();
      id = w.seal();
    }
    long t3 = System.nanoTime();
    t[0] = t1 - t0;
    t[1] = t2 - t1;
    t[2] = t3 - t2;
    return id;
  }

  /**
   * Puts 64 MiB blobs on a (nearly) empty arena, deleting each after it is timed, into {@code total}
   * (and the create/seal split); untimed warm-up puts first. Runs once before the pressure phase and
   * once more at the end, so that a drift of the machine's speed during the run shows.
   */
  private void baselinePuts(IpcClient client, MemorySegment src, Samples total, Samples create, Samples seal, String when) {
    long[] t = new long[3];
    long deadline = deadline(plan.baselineSeconds);
    for (int i = 0; i < plan.baselineWarmups && (i < 1 || System.nanoTime() < deadline); i++) {
      client.delete(timedPut(client, src, i, t));
    }
    StoreStats before = client.stats();
    Samples mine = new Samples(plan.baselineReps);
    while (!mine.isFull() && (mine.count() < 3 || System.nanoTime() < deadline)) {
      ObjectId id = timedPut(client, src, mine.count(), t);
      mine.add(t[0] + t[1] + t[2]);
      total.add(t[0] + t[1] + t[2]);
      create.add(t[0]);
      seal.add(t[2]);
      client.delete(id);
    }
    StoreStats after = client.stats();
    if (after.spillWrites() != before.spillWrites()) {
      errors.add("baseline_put: the daemon spilled during the baseline (" + (after.spillWrites() - before.spillWrites())
          + " blobs): it was not empty enough");
    }
    details.put("baseline_put_gbps_" + when, round(gbps(BLOB, mine.median()), 3));
    log("baseline put 64 MiB (%s): median %.2f GB/s, best %.2f GB/s (%d reps)",
        when, gbps(BLOB, mine.median()), gbps(BLOB, mine.min()), mine.count());
  }

  /** The baseline: the median over the reps before the pressure phase and at the end. */
  private void baselineResults(Samples total, Samples create, Samples seal) {
    if (total.count() == 0) {
      return;
    }
    results.put("baseline_put_gbps", round(gbps(BLOB, total.median()), 3));
    details.put("baseline_put_best_gbps", round(gbps(BLOB, total.min()), 3));
    details.put("baseline_put_reps", total.count());
    details.put("baseline_put_create_us", round(create.median() / 1e3, 1));
    details.put("baseline_put_seal_us", round(seal.median() / 1e3, 1));
  }

  /**
   * Puts 64 MiB blobs and keeps them all, until pressureFactor times the daemon's memory is stored.
   * The daemon's counters are read after every put (untimed), so each put is known to have made
   * the daemon spill or not.
   */
  private void pressurePuts(IpcClient client, MemorySegment src, List<ObjectId> ids) {
    long capacity = firstStats.capacityBytes();
    int n = (int) Math.ceil(plan.pressureFactor * capacity / BLOB);
    long[] t = new long[3];
    long[] total = new long[n];
    long[] create = new long[n];
    long[] spilledBy = new long[n];
    StoreStats start = client.stats();
    long prevWrites = start.spillWrites();
    int firstSpilling = -1;
    long deadline = deadline(plan.pressureSeconds);
    int done = 0;
    while (done < n && System.nanoTime() < deadline) {
      ObjectId id;
      try {
        id = timedPut(client, src, done, t);
      } catch (VineyardException e) {
        errors.add("pressure_put: put " + (done + 1) + " of " + n + " failed (is the daemon spilling?): " + e.getMessage());
        break;
      }
      ids.add(id);
      live.add(id);
      total[done] = t[0] + t[1] + t[2];
      create[done] = t[0];
      long writes = client.stats().spillWrites();
      spilledBy[done] = writes - prevWrites;
      prevWrites = writes;
      if (spilledBy[done] > 0 && firstSpilling < 0) {
        firstSpilling = done;
      }
      done++;
    }
    StoreStats end = client.stats();
    long spillWrites = end.spillWrites() - start.spillWrites();
    details.put("pressure_puts", done);
    details.put("pressure_puts_planned", n);
    details.put("pressure_stored_bytes", done * BLOB);
    details.put("pressure_stored_vs_size", round(done * (double) BLOB / capacity, 2));
    results.put("pressure_spill_writes", spillWrites);
    details.put("pressure_spilled_bytes_end", end.spilledBytes());
    details.put("pressure_spilled_blobs_end", end.spilledBlobCount());
    details.put("pressure_resident_bytes_end", end.usedBytes());
    if (firstSpilling < 0) {
      errors.add("pressure_put: the daemon never spilled (was it started with --spill-dir?)");
      return;
    }
    // Under pressure: from the first put that made the daemon spill on.
    int m = done - firstSpilling;
    Samples all = new Samples(m);
    Samples spilling = new Samples(m);
    Samples quiet = new Samples(m);
    Samples createSpilling = new Samples(m);
    long sumNanos = 0;
    long spillingPuts = 0;
    for (int i = firstSpilling; i < done; i++) {
      all.add(total[i]);
      sumNanos += total[i];
      if (spilledBy[i] > 0) {
        spilling.add(total[i]);
        createSpilling.add(create[i]);
        spillingPuts++;
      } else {
        quiet.add(total[i]);
      }
    }
    Samples fill = new Samples(Math.max(firstSpilling, 1));
    for (int i = 0; i < firstSpilling; i++) {
      fill.add(total[i]);
    }
    double median = gbps(BLOB, all.median());
    double aggregate = m * (double) BLOB / sumNanos;
    results.put("pressure_put_gbps", round(median, 3));
    results.put("pressure_put_aggregate_gbps", round(aggregate, 3));
    details.put("pressure_puts_timed", m);
    details.put("pressure_first_spilling_put", firstSpilling + 1);
    details.put("pressure_puts_that_spilled", spillingPuts);
    details.put("pressure_blobs_spilled_per_spilling_put",
        round(spillingPuts == 0 ? 0 : spillWrites / (double) spillingPuts, 2));
    details.put("pressure_put_gbps_at_p90_time", round(gbps(BLOB, all.percentile(90)), 3));
    details.put("pressure_put_gbps_slowest", round(gbps(BLOB, all.max()), 3));
    details.put("pressure_put_gbps_spilling_puts", round(gbps(BLOB, spilling.median()), 3));
    details.put("pressure_put_gbps_non_spilling_puts", round(gbps(BLOB, quiet.median()), 3));
    details.put("pressure_put_create_ms_spilling_puts", round(createSpilling.median() / 1e6, 2));
    details.put("pressure_put_gbps_before_first_spill", round(gbps(BLOB, fill.median()), 3));
    // What a spilling put pays beyond a quiet one, per byte spilled: the daemon's write rate.
    if (spillingPuts > 0 && quiet.count() > 0) {
      double extra = spilling.mean() - quiet.median();
      double perPut = spillWrites / (double) spillingPuts * BLOB;
      details.put("pressure_spill_write_gbps_estimate", round(perPut / extra, 3));
    }
    log("pressure put 64 MiB: %d puts (%.1fx the daemon's memory), %d spilled blobs; from the first spill on: "
            + "median %.2f GB/s, aggregate %.2f GB/s, %d of %d puts spilled (median %.2f GB/s), the others %.2f GB/s",
        done, done * (double) BLOB / capacity, spillWrites, median, aggregate, spillingPuts, m,
        gbps(BLOB, spilling.median()), gbps(BLOB, quiet.median()));
  }

  // ---------------------------------------------------------------- a bystander's gets during spilling

  /**
   * A bystander client, on its own connection and thread, gets an already resident, sealed 4 KiB
   * blob over and over (get + read its last byte, checked + close, then a pause of {@link
   * #BYSTANDER_PAUSE_NANOS}). In each of a few rounds it is timed twice: quiet (the baseline), then
   * while a second client (its own connection, this thread) puts 64 MiB blobs and keeps them until
   * the daemon has spilled {@link #SPILL_DURING_BYSTANDER}; those are then deleted, untimed. After
   * the last round, one more quiet window. Quiet and spilling windows alternate so both see the
   * same machine.
   */
  private void bystander(IpcClient client, MemorySegment src) {
    long capacity = firstStats.capacityBytes();
    int rounds = plan.bystanderRounds;
    Samples quiet = new Samples((rounds + 1) * BYSTANDER_MAX_SAMPLES);
    Samples during = new Samples(rounds * BYSTANDER_MAX_SAMPLES);
    long[] mismatches = new long[1];
    List<ObjectId> written = new ArrayList<>();
    long spilledTotal = 0;
    long putsTotal = 0;
    double spillingSeconds = 0;
    long reloads = 0;
    int short_ = 0;
    long dpid = daemonPid;
    int roundsDone = 0;
    long self = ProcessHandle.current().pid();
    long daemonCpu = 0;
    long selfCpu = 0;
    long machineCpu = 0;
    Map<String, Long> threadsSum = new HashMap<>();
    long deadlineAll = deadline(plan.bystanderSeconds);
    try (IpcClient by = IpcClient.connect(socket, Duration.ofMinutes(2), "spill-bench-bystander");
        IpcClient writer = IpcClient.connect(socket, Duration.ofMinutes(2), "spill-bench-writer")) {
      byte[] bytes = new byte[BYSTANDER_BLOB];
      java.util.Arrays.fill(bytes, (byte) 0x11);
      bytes[BYSTANDER_BLOB - 1] = (byte) 0xa7;
      ObjectId small = by.putBlob(bytes);
      try {
        bystanderWindow(by, small, new Samples(plan.bystanderWarmup), mismatches, () -> true, 2); // warm-up
        int r = 0;
        for (; r < rounds && (r < 1 || System.nanoTime() < deadlineAll); r++) {
          bystanderWindow(by, small, quiet, mismatches, () -> true, plan.bystanderQuietSeconds);

          // Spilling: the bystander on its own thread, the spilling client on this one.
          java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
          Throwable[] failed = new Throwable[1];
          Thread t = Thread.ofPlatform().name("bystander").start(() -> {
            try {
              bystanderWindow(by, small, during, mismatches, writing::get, plan.bystanderSpillSeconds + 10);
            } catch (Throwable e) {
              failed[0] = e;
            }
          });
          StoreStats start = writer.stats();
          long d0 = Measure.cpuMillis(dpid);
          long s0 = Measure.cpuMillis(self);
          long m0 = Measure.machineBusyMillis();
          Map<String, Long> th0 = Measure.threadCpuMillis(dpid);
          long t0 = System.nanoTime();
          long spilled = 0;
          int puts = 0;
          int maxPuts = (int) ((SPILL_DURING_BYSTANDER + capacity) / BLOB) * 2 + 4;
          long deadline = deadline(plan.bystanderSpillSeconds);
          long[] t3 = new long[3];
          try {
            while (spilled < SPILL_DURING_BYSTANDER && puts < maxPuts && System.nanoTime() < deadline) {
              written.add(timedPut(writer, src, puts++, t3));
              spilled = (writer.stats().spillWrites() - start.spillWrites()) * BLOB;
            }
          } finally {
            writing.set(false);
            try {
              t.join(60_000);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          spillingSeconds += (System.nanoTime() - t0) / 1e9;
          daemonCpu += Measure.cpuMillis(dpid) - d0;
          selfCpu += Measure.cpuMillis(self) - s0;
          machineCpu += Measure.machineBusyMillis() - m0;
          Measure.threadCpuMillis(dpid).forEach((k, v) -> threadsSum.merge(k, v - th0.getOrDefault(k, 0L), Long::sum));
          if (failed[0] != null) {
            throw new IllegalStateException("the bystander failed: " + failed[0], failed[0]);
          }
          StoreStats end = writer.stats();
          reloads += end.reloads() - start.reloads();
          spilledTotal += spilled;
          putsTotal += puts;
          if (spilled < SPILL_DURING_BYSTANDER) {
            short_++;
          }
          writer.delete(written, false, false);
          written.clear();
        }
        roundsDone = r;
        bystanderWindow(by, small, quiet, mismatches, () -> true, plan.bystanderQuietSeconds);
      } finally {
        if (!written.isEmpty()) {
          writer.delete(written, false, false);
        }
        by.delete(small);
      }
    }
    details.put("bystander_rounds", roundsDone);
    details.put("bystander_spilled_bytes_per_round", spilledTotal / Math.max(1, roundsDone));
    details.put("bystander_spilling_puts", putsTotal);
    details.put("bystander_spilling_seconds", round(spillingSeconds, 2));
    details.put("bystander_spill_gbps", round(spilledTotal / spillingSeconds / 1e9, 3));
    details.put("bystander_daemon_reloads_meanwhile", reloads);
    double wallMs = spillingSeconds * 1e3;
    Map<String, Object> cpu = new LinkedHashMap<>();
    if (daemonPid > 0) {
      cpu.put("daemon_cpus", round(daemonCpu / wallMs, 2));
      cpu.put("daemon_busiest_threads", Measure.topThreads(Map.of(), threadsSum, 5));
    }
    cpu.put("harness_cpus", round(selfCpu / wallMs, 2));
    cpu.put("machine_busy_cpus", round(machineCpu / wallMs, 2));
    if (daemonPid > 0) {
      cpu.put("other_processes_cpus", round(Math.max(0, machineCpu - daemonCpu - selfCpu) / wallMs, 2));
    }
    details.put("bystander_cpu_while_spilling", cpu);
    if (short_ > 0) {
      errors.add("bystander: in " + short_ + " round(s) the daemon spilled less than " + SPILL_DURING_BYSTANDER / MIB
          + " MiB within the bounds");
    }
    if (mismatches[0] > 0) {
      errors.add("bystander: " + mismatches[0] + " gets read back another byte than was put");
    }
    if (quiet.count() == 0 || during.count() == 0) {
      errors.add("bystander: no samples (" + quiet.count() + " quiet, " + during.count() + " during spilling)");
      return;
    }
    double p99 = during.percentile(99) / 1e3;
    double base99 = quiet.percentile(99) / 1e3;
    results.put("get_p50_us_during_spill", round(during.median() / 1e3, 1));
    results.put("get_p99_us_during_spill", round(p99, 1));
    results.put("get_p50_us_no_spill", round(quiet.median() / 1e3, 1));
    results.put("get_p99_us_no_spill", round(base99, 1));
    results.put("get_p99_during_spill_vs_no_spill", round(p99 / base99, 2));
    details.put("bystander_samples_during_spill", during.count());
    details.put("bystander_samples_no_spill", quiet.count());
    details.put("bystander_pause_us", BYSTANDER_PAUSE_NANOS / 1000);
    details.put("bystander_p90_us_during_spill", round(during.percentile(90) / 1e3, 1));
    details.put("bystander_p90_us_no_spill", round(quiet.percentile(90) / 1e3, 1));
    details.put("bystander_p999_us_during_spill", round(during.percentile(99.9) / 1e3, 1));
    details.put("bystander_max_us_during_spill", round(during.max() / 1e3, 1));
    details.put("bystander_p999_us_no_spill", round(quiet.percentile(99.9) / 1e3, 1));
    details.put("bystander_max_us_no_spill", round(quiet.max() / 1e3, 1));
    details.put("bystander_verified", (quiet.count() + during.count() - mismatches[0]) + " of "
        + (quiet.count() + during.count()) + " timed gets");
    log("bystander 4 KiB get: p50 %.1f us, p99 %.1f us while the daemon spilled (%s rounds of >= 1 GiB);"
            + " without spilling p50 %.1f us, p99 %.1f us; p99 ratio %.2f; cpu while spilling %s",
        during.median() / 1e3, p99, details.get("bystander_rounds"), quiet.median() / 1e3, base99, p99 / base99, cpu);
  }

  /** Bystander gets into {@code s} until it is full, {@code go} turns false or the time is up. */
  private static void bystanderWindow(IpcClient by, ObjectId id, Samples s, long[] mismatches,
      java.util.function.BooleanSupplier go, double seconds) {
    long deadline = deadline(seconds);
    while (!s.isFull() && go.getAsBoolean() && System.nanoTime() < deadline) {
      long t0 = System.nanoTime();
      byte v;
      try (Blob b = by.getBlob(id)) {
        v = b.segment().get(ValueLayout.JAVA_BYTE, BYSTANDER_BLOB - 1);
      }
      s.add(System.nanoTime() - t0);
      if (v != (byte) 0xa7) {
        mismatches[0]++;
      }
      try {
        // Not LockSupport.parkNanos: the client unparks its callers, and a permit left over from
        // a reply would cut the pause short.
        Thread.sleep(Duration.ofNanos(BYSTANDER_PAUSE_NANOS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("bystander interrupted", e);
      }
    }
  }

  // ---------------------------------------------------------------- reload against plain file reads

  /**
   * The daemon's current spill file of a blob ({@code <16 hex digits>-<n>.blob}, one name per spill),
   * or null if the blob is not spilled or the daemon's directory cannot be found.
   */
  private Path spillFile(ObjectId id) {
    Path dir = daemonSpillDir();
    if (dir == null) {
      return null;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, HexFormat.of().toHexDigits(id.value()) + "-*.blob")) {
      for (Path p : ds) {
        return p;
      }
    } catch (IOException e) {
      return null;
    }
    return null;
  }

  private Path daemonSpillDirCache;

  private Path daemonSpillDir() {
    if (daemonSpillDirCache == null) {
      if (daemonPid > 0) {
        daemonSpillDirCache = spillRoot.resolve("vineyardd-" + daemonPid);
      } else {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(spillRoot, "vineyardd-*")) {
          for (Path p : ds) {
            daemonSpillDirCache = p; // a private daemon: there is one
          }
        } catch (IOException e) {
          return null;
        }
      }
    }
    return daemonSpillDirCache;
  }

  /** One timed get of a blob: total and getBlob-part nanoseconds; the byte read goes to the sink. */
  private record GetTiming(long total, long getPart, long closePart, byte value) {}

  private static GetTiming timedGet(IpcClient client, ObjectId id) {
    long t0 = System.nanoTime();
    Blob b = client.getBlob(id);
    long t1 = System.nanoTime();
    byte v = b.segment().get(ValueLayout.JAVA_BYTE, BLOB - 1);
    long t2 = System.nanoTime();
    b.close();
    long t3 = System.nanoTime();
    return new GetTiming(t3 - t0, t1 - t0, t3 - t2, v);
  }

  private void reloads(IpcClient client, MemorySegment src, MemorySegment dst, List<ObjectId> ids) {
    Path spillDir = daemonSpillDir();
    List<ObjectId> spilled = new ArrayList<>();
    List<Integer> spilledIndex = new ArrayList<>();
    if (spillDir != null && Files.isDirectory(spillDir)) {
      for (int i = 0; i < ids.size(); i++) {
        Path f = spillFile(ids.get(i));
        if (f != null && Files.exists(f)) {
          spilled.add(ids.get(i));
          spilledIndex.add(i);
        }
      }
      details.put("spill_files_found", spilled.size());
    } else {
      // Fall back on the daemon's order: least recently used first, so the oldest puts.
      long count = client.stats().spilledBlobCount();
      for (int i = 0; i < count && i < ids.size(); i++) {
        spilled.add(ids.get(i));
        spilledIndex.add(i);
      }
      errors.add("reload: the daemon's spill directory was not found under " + spillRoot
          + "; assumed the oldest " + count + " blobs are the spilled ones");
    }
    if (spilled.isEmpty()) {
      errors.add("reload: no spilled blobs");
      return;
    }

    // 1. Reloads while memory is still full: a reload may make the daemon spill other blobs. For
    //    the details only. These blobs stay (resident again).
    int k = Math.min(plan.reloadUnderPressure, spilled.size() / 4);
    if (k > 0) {
      reloadUnderPressure(client, spilled.subList(0, k));
    }

    // 2. Empty the arena: delete everything but the blobs still spilled and not yet reloaded, so
    //    that the timed reloads need no spilling to make room.
    Set<ObjectId> keep = new LinkedHashSet<>(spilled.subList(k, spilled.size()));
    List<ObjectId> drop = new ArrayList<>();
    for (ObjectId id : live) {
      if (!keep.contains(id)) {
        drop.add(id);
      }
    }
    client.delete(drop, false, false);
    drop.forEach(live::remove);
    StoreStats emptied = client.stats();
    details.put("reload_resident_bytes_before", emptied.usedBytes());
    details.put("reload_spilled_blobs_before", emptied.spilledBlobCount());

    List<ObjectId> rest = spilled.subList(k, spilled.size());
    List<Integer> restIndex = spilledIndex.subList(k, spilled.size());
    int cold = coldCache ? Math.min(plan.coldReps, rest.size() / 3) : 0;
    int warm = Math.min(plan.reloadReps, rest.size() - cold);

    // 3. Warm: the spill files were written seconds ago, the harness's files just now.
    pairs(client, src, dst, "", rest.subList(0, warm), restIndex.subList(0, warm), false);

    // 4. Cold (only when asked): the same after sync and dropping the page cache.
    if (cold > 0) {
      pairs(client, src, dst, "cold_", rest.subList(warm, warm + cold), restIndex.subList(warm, warm + cold), true);
    } else if (coldCache) {
      errors.add("cold: too few spilled blobs left for a cold-cache round");
    }
  }

  private void reloadUnderPressure(IpcClient client, List<ObjectId> blobs) {
    Samples s = new Samples(blobs.size());
    long sum = 0;
    long sink = 0;
    StoreStats before = client.stats();
    for (ObjectId id : blobs) {
      GetTiming g = timedGet(client, id);
      s.add(g.total());
      sum += g.total();
      sink += g.value();
    }
    StoreStats after = client.stats();
    details.put("reload_under_pressure_blobs", s.count());
    details.put("reload_under_pressure_gbps", round(gbps(BLOB, s.median()), 3));
    details.put("reload_under_pressure_aggregate_gbps", round(s.count() * (double) BLOB / sum, 3));
    details.put("reload_under_pressure_reloads", after.reloads() - before.reloads());
    details.put("reload_under_pressure_spill_writes", after.spillWrites() - before.spillWrites());
    details.put("sink_reload_under_pressure", sink & 0xff);
    log("reload with memory full: %d blobs, median %.2f GB/s, aggregate %.2f GB/s, %d blobs spilled meanwhile",
        s.count(), gbps(BLOB, s.median()), s.count() * (double) BLOB / sum, after.spillWrites() - before.spillWrites());
  }

  /** Writes a harness file of one blob's size, the way the daemon writes a spill file. */
  private static long writeFile(Path f, MemorySegment bytes) throws IOException {
    long t0 = System.nanoTime();
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (long off = 0; off < bytes.byteSize(); ) {
        int n = (int) Math.min(CHUNK, bytes.byteSize() - off);
        ByteBuffer buf = bytes.asSlice(off, n).asByteBuffer();
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        off += n;
      }
    }
    return System.nanoTime() - t0;
  }

  /** Open + positional reads (as the daemon's reload does) into {@code target} + close, timed. */
  private static long readFile(Path f, MemorySegment target) throws IOException {
    long t0 = System.nanoTime();
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
      for (long off = 0; off < target.byteSize(); ) {
        int n = (int) Math.min(CHUNK, target.byteSize() - off);
        ByteBuffer buf = target.asSlice(off, n).asByteBuffer();
        while (buf.hasRemaining()) {
          if (ch.read(buf, off + buf.position()) < 0) {
            throw new IOException(f + " ended early");
          }
        }
        off += n;
      }
    }
    return System.nanoTime() - t0;
  }

  private List<Path> writeHarnessFiles(MemorySegment src, List<Integer> index, String label) {
    List<Path> files = new ArrayList<>();
    long nanos = 0;
    long deadline = deadline(plan.reloadSeconds / 2);
    try {
      for (int j = 0; j < index.size() && (j < 3 || System.nanoTime() < deadline); j++) {
        // The same bytes as a blob of the pressure phase, shifted by one more MiB.
        Path f = benchFiles.resolve(label + "file-" + j + ".bin");
        nanos += writeFile(f, src.asSlice(shiftOf(index.get(j) + 1), BLOB));
        files.add(f);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    details.put(label + "file_write_gbps", round(files.size() * (double) BLOB / Math.max(nanos, 1), 3));
    return files;
  }

  /**
   * Alternates, blob by blob, a reload of a spilled blob with a plain read of a harness file of
   * the same size from the same directory (which goes first alternates too), so that both see the
   * same conditions. Before each, records how much of either file is in the page cache. With
   * {@code cold}, syncs and drops the page cache once the harness's files are written.
   */
  private void pairs(IpcClient client, MemorySegment src, MemorySegment dst, String label, List<ObjectId> blobs,
      List<Integer> index, boolean cold) {
    List<Path> files = writeHarnessFiles(src, index, label);
    if (cold) {
      String dropped = dropCaches();
      pageCache.put(label + "drop_caches", dropped);
      if (!dropped.startsWith("dropped")) {
        errors.add(label + "reload: " + dropped);
        files.forEach(SpillBenchmark::deleteQuietly);
        return;
      }
    }
    snapshotMeminfo(label + "before_reload");
    int n = Math.min(blobs.size(), files.size());
    Samples reload = new Samples(n);
    Samples getPart = new Samples(n);
    Samples closePart = new Samples(n);
    Samples fileRead = new Samples(n);
    Samples unlink = new Samples(n);
    Samples readPlusUnlink = new Samples(n);
    double spillResident = 0;
    double fileResident = 0;
    int residentSamples = 0;
    int notReloaded = 0;
    long spillsDuring = 0;
    long sink = 0;
    long deadline = deadline(plan.reloadSeconds);
    long verifyDeadline = deadline(plan.verifySeconds);
    try {
      for (int j = 0; j < n && (j < 3 || System.nanoTime() < deadline); j++) {
        ObjectId id = blobs.get(j);
        Path f = files.get(j);
        Path sf = spillFile(id);
        double sr = sf == null ? Double.NaN : residentFraction(sf);
        double fr = residentFraction(f);
        if (!Double.isNaN(sr)) {
          spillResident += sr;
          fileResident += fr;
          residentSamples++;
        }
        StoreStats before = client.stats();
        long readNanos;
        GetTiming g;
        if (j % 2 == 0) {
          g = timedGet(client, id);
          readNanos = readFile(f, dst);
        } else {
          readNanos = readFile(f, dst);
          g = timedGet(client, id);
        }
        StoreStats after = client.stats();
        long u0 = System.nanoTime();
        Files.delete(f);
        long unlinkNanos = System.nanoTime() - u0;
        sink += g.value() + dst.get(ValueLayout.JAVA_BYTE, BLOB - 1);
        checkFileRead(src, dst, index.get(j) + 1, f);
        spillsDuring += after.spillWrites() - before.spillWrites();
        if (after.reloads() - before.reloads() != 1) {
          notReloaded++; // not a reload: not counted
        } else {
          reload.add(g.total());
          getPart.add(g.getPart());
          closePart.add(g.closePart());
          fileRead.add(readNanos);
          unlink.add(unlinkNanos);
          readPlusUnlink.add(readNanos + unlinkNanos);
        }
        if (j < 3 || System.nanoTime() < verifyDeadline) {
          verify(client, id, index.get(j), src);
        } else {
          verifySkipped++;
        }
        client.delete(id);
        live.remove(id);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      files.forEach(SpillBenchmark::deleteQuietly);
    }
    String p = label;
    double r = gbps(BLOB, reload.median());
    double fr = gbps(BLOB, fileRead.median());
    results.put(p + "reload_gbps", round(r, 3));
    results.put(p + "file_read_gbps", round(fr, 3));
    results.put(p + "reload_vs_file_read", round(r / fr, 3));
    details.put(p + "reload_samples", reload.count());
    details.put(p + "reload_best_gbps", round(gbps(BLOB, reload.min()), 3));
    details.put(p + "reload_getblob_part_ms", round(getPart.median() / 1e6, 2));
    details.put(p + "reload_close_part_us", round(closePart.median() / 1e3, 1));
    details.put(p + "file_read_best_gbps", round(gbps(BLOB, fileRead.min()), 3));
    details.put(p + "file_read_ms", round(fileRead.median() / 1e6, 2));
    details.put(p + "reload_ms", round(reload.median() / 1e6, 2));
    details.put(p + "file_unlink_ms", round(unlink.median() / 1e6, 2));
    details.put(p + "reload_minus_read_minus_unlink_ms",
        round((reload.median() - fileRead.median() - unlink.median()) / 1e6, 2));
    details.put(p + "file_read_plus_unlink_gbps", round(gbps(BLOB, readPlusUnlink.median()), 3));
    details.put(p + "reload_vs_file_read_plus_unlink", round(r / gbps(BLOB, readPlusUnlink.median()), 3));
    details.put(p + "reload_spill_writes_meanwhile", spillsDuring);
    details.put(p + "reload_gets_that_did_not_reload", notReloaded);
    details.put(p + "sink", sink & 0xff);
    if (residentSamples > 0) {
      pageCache.put(p + "spill_files_in_page_cache_before_get", percent(spillResident / residentSamples));
      pageCache.put(p + "harness_files_in_page_cache_before_read", percent(fileResident / residentSamples));
    } else {
      pageCache.put(p + "spill_files_in_page_cache_before_get", "unknown (spill files not found)");
      pageCache.put(p + "harness_files_in_page_cache_before_read", percent(fileResident / Math.max(1, n)));
    }
    log("%sreload 64 MiB: median %.2f GB/s (%.1f ms) over %d blobs; plain file read %.2f GB/s (%.1f ms), unlink %.2f ms;"
            + " reload/file_read %.2f",
        label, r, reload.median() / 1e6, reload.count(), fr, fileRead.median() / 1e6, unlink.median() / 1e6, r / fr);
  }

  /** {@code sync}, then {@code echo 1 > /proc/sys/vm/drop_caches}; says what happened. */
  private static String dropCaches() {
    try {
      Process p = new ProcessBuilder("sync").redirectErrorStream(true).start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "not dropped: sync did not finish within 120 s";
      }
      Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "1");
      return "dropped (sync; echo 1 > /proc/sys/vm/drop_caches)";
    } catch (IOException e) {
      return "not dropped: " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "not dropped: interrupted";
    }
  }

  /** A cheap check of a plain read: three words against the source. */
  private static void checkFileRead(MemorySegment src, MemorySegment dst, int shiftIndex, Path f) {
    long shift = shiftOf(shiftIndex);
    for (long off : new long[] {0, BLOB / 2 + 8, BLOB - 8}) {
      if (dst.get(ValueLayout.JAVA_LONG, off) != src.get(ValueLayout.JAVA_LONG, shift + off)) {
        throw new IllegalStateException("plain read of " + f + " returned other bytes at offset " + off);
      }
    }
  }

  private static void deleteQuietly(Path f) {
    try {
      Files.deleteIfExists(f);
    } catch (IOException e) {
      // removed with the directory at the end
    }
  }

  /** CRC32C of the whole reloaded blob against the CRC of the bytes that were put. */
  private void verify(IpcClient client, ObjectId id, int i, MemorySegment src) {
    long want = expectedCrc.computeIfAbsent(i % SHIFTS, s -> crc(src.asSlice(shiftOf(s), BLOB)));
    long got;
    try (Blob b = client.getBlob(id)) {
      got = crc(b.segment());
    }
    if (got == want) {
      verified++;
    } else {
      verifyFailures++;
      errors.add("verify: blob " + id + " (put " + (i + 1) + ") came back with CRC32C " + Long.toHexString(got)
          + ", expected " + Long.toHexString(want));
    }
  }

  private static long crc(MemorySegment seg) {
    CRC32C c = new CRC32C();
    for (long off = 0; off < seg.byteSize(); ) {
      int n = (int) Math.min(CHUNK, seg.byteSize() - off);
      c.update(seg.asSlice(off, n).asByteBuffer());
      off += n;
    }
    return c.getValue();
  }

  /** Share of the file's 1 MiB chunks whose pages are all in the page cache (mincore), or NaN. */
  private static double residentFraction(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena a = Arena.ofConfined()) {
      long size = ch.size();
      if (size == 0) {
        return 1;
      }
      MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, a);
      int chunks = 0;
      int loaded = 0;
      for (long off = 0; off < size; off += MIB) {
        chunks++;
        if (m.asSlice(off, Math.min(MIB, size - off)).isLoaded()) {
          loaded++;
        }
      }
      return loaded / (double) chunks;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  // ---------------------------------------------------------------- bookkeeping

  private void deleteLive(IpcClient client) {
    if (!live.isEmpty()) {
      client.delete(new ArrayList<>(live), false, false);
      live.clear();
    }
  }

  private void snapshotMeminfo(String when) {
    Map<String, Object> m = new LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        String[] kv = line.split(":\\s+");
        if (kv.length == 2 && List.of("Cached", "Dirty", "Writeback", "Shmem").contains(kv[0])) {
          m.put(kv[0] + "_mib", Math.round(Long.parseLong(kv[1].replace(" kB", "").strip()) / 1024.0));
        }
      }
    } catch (IOException | RuntimeException e) {
      m.put("error", e.toString());
    }
    meminfo.put(when, m);
  }

  private static void deleteTree(Path p) {
    if (p == null || !Files.exists(p)) {
      return;
    }
    try (var s = Files.walk(p)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(q -> {
        try {
          Files.deleteIfExists(q);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      System.err.println("cannot remove " + p + ": " + e);
    }
  }

  // ---------------------------------------------------------------- report

  private Map<String, Object> assemble(Instant startedAt, double seconds) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("timestamp", startedAt.truncatedTo(ChronoUnit.SECONDS).toString());
    json.put("mode", plan.mode);
    json.putAll(results);
    Double base = num(results.get("baseline_put_gbps"));
    Double median = num(results.get("pressure_put_gbps"));
    Double aggregate = num(results.get("pressure_put_aggregate_gbps"));
    json.put("pressure_vs_baseline", base == null || median == null ? null : round(median / base, 3));
    json.put("pressure_aggregate_vs_baseline", base == null || aggregate == null ? null : round(aggregate / base, 3));
    json.put("verified", verified + " of " + (verified + verifyFailures) + " reloaded blobs match (CRC32C of all "
        + "64 MiB), " + verifySkipped + " not checked (time budget)");
    json.put("page_cache", pageCache);
    Double byRatio = num(results.get("get_p99_during_spill_vs_no_spill"));
    Map<String, Object> targets = new LinkedHashMap<>();
    targets.put("get_p99_during_spill_vs_no_spill <= 5",
        byRatio == null ? "n/a" : byRatio <= TARGET_BYSTANDER_P99_RATIO ? "met" : "NOT met");
    json.put("targets", targets);

    Map<String, Object> daemon = new LinkedHashMap<>(settings);
    if (firstStats != null) {
      daemon.put("capacity_bytes", firstStats.capacityBytes());
      daemon.put("instance_id", firstStats.instanceId());
    }
    daemon.put("socket", socket.toString());
    daemon.put("spill_dir", spillRoot.toString());
    json.put("daemon", daemon);

    Map<String, Object> host = new LinkedHashMap<>();
    host.put("cpus", Runtime.getRuntime().availableProcessors());
    host.put("java_version", System.getProperty("java.vm.version"));
    host.put("java_vm", System.getProperty("java.vm.name"));
    host.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
    json.put("host", host);
    json.put("meminfo", meminfo);
    json.put("details", details);
    json.put("seconds", round(seconds, 1));
    Map<String, Object> errs = new LinkedHashMap<>();
    for (int i = 0; i < errors.size(); i++) {
      errs.put(Integer.toString(i + 1), errors.get(i));
    }
    json.put("errors", errs);
    return json;
  }

  private void printTable(Map<String, Object> json) {
    StringBuilder sb = new StringBuilder();
    sb.append('\n').append(String.format(Locale.ROOT, "Vineyard spill benchmark, %s mode, %s%n", plan.mode, json.get("timestamp")));
    sb.append(String.format(Locale.ROOT, "daemon: %s%n", json.get("daemon")));
    sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", "metric", "value", "notes"));
    sb.append("-".repeat(96)).append('\n');
    row(sb, json, "baseline_put_gbps", "GB/s", String.format(Locale.ROOT, "64 MiB create+copy+seal, deleted after each; "
        + "no pressure (before %s, after %s)", fmt(details.get("baseline_put_gbps_before")),
        fmt(details.get("baseline_put_gbps_after"))));
    row(sb, json, "pressure_put_gbps", "GB/s", String.format(Locale.ROOT, "median of %s puts from the first spill on, "
        + "%s of baseline", details.get("pressure_puts_timed"), pct(json.get("pressure_vs_baseline"))));
    row(sb, json, "pressure_put_aggregate_gbps", "GB/s", String.format(Locale.ROOT, "bytes / time over those puts, "
        + "%s of baseline", pct(json.get("pressure_aggregate_vs_baseline"))));
    sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", "  spilling / other puts",
        fmt(details.get("pressure_put_gbps_spilling_puts")) + " / " + fmt(details.get("pressure_put_gbps_non_spilling_puts")),
        String.format(Locale.ROOT, "GB/s; %s of %s puts spilled, %s blobs each",
            details.get("pressure_puts_that_spilled"), details.get("pressure_puts_timed"),
            details.get("pressure_blobs_spilled_per_spilling_put"))));
    row(sb, json, "pressure_spill_writes", "", String.format(Locale.ROOT, "daemon spillWrites during %s puts (%sx --size)",
        details.get("pressure_puts"), details.get("pressure_stored_vs_size")));
    for (String p : new String[] {"", "cold_"}) {
      if (!json.containsKey(p + "reload_gbps")) {
        continue;
      }
      String tag = p.isEmpty() ? "warm page cache" : "COLD page cache";
      row(sb, json, p + "reload_gbps", "GB/s", String.format(Locale.ROOT, "median of %s: get + read 1 byte + close "
          + "of a spilled 64 MiB blob (%s)", details.get(p + "reload_samples"), tag));
      row(sb, json, p + "file_read_gbps", "GB/s", String.format(Locale.ROOT, "FileChannel.read of a 64 MiB file in the "
          + "spill dir into off-heap memory (%s)", tag));
      row(sb, json, p + "reload_vs_file_read", "", String.format(Locale.ROOT, "reload vs file read + unlink (%.1f ms): %s",
          num(details.get(p + "file_unlink_ms")), fmt(details.get(p + "reload_vs_file_read_plus_unlink"))));
      sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", "  page cache", "",
          "spill files " + pageCache.get(p + "spill_files_in_page_cache_before_get") + ", harness files "
              + pageCache.get(p + "harness_files_in_page_cache_before_read") + " resident before each read (mincore)"));
      sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", "  per 64 MiB", "",
          String.format(Locale.ROOT, "reload %s ms; plain read %s ms, unlink of that file %s ms (a reload deletes its "
              + "spill file)", fmt(details.get(p + "reload_ms")), fmt(details.get(p + "file_read_ms")),
              fmt(details.get(p + "file_unlink_ms")))));
      if (meminfo.get(p + "before_reload") instanceof Map<?, ?> m) {
        sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", "  dirty page cache", "",
            String.format(Locale.ROOT, "Dirty %s MiB, Writeback %s MiB before these reloads (vm.dirty_background_ratio %s%%)",
                m.get("Dirty_mib"), m.get("Writeback_mib"), sysctl("vm/dirty_background_ratio"))));
      }
    }
    row(sb, json, "get_p99_us_during_spill", "us", String.format(Locale.ROOT, "bystander 4 KiB get+read+close, own "
        + "connection, %s rounds in which another client makes the daemon spill >= 1 GiB (p50 %s us, %s gets)",
        details.get("bystander_rounds"), fmt(json.get("get_p50_us_during_spill")), fmt(details.get("bystander_samples_during_spill"))));
    row(sb, json, "get_p99_us_no_spill", "us", String.format(Locale.ROOT, "the same bystander, no spilling, before "
        + "and after (p50 %s us, %s gets)", fmt(json.get("get_p50_us_no_spill")), fmt(details.get("bystander_samples_no_spill"))));
    row(sb, json, "get_p99_during_spill_vs_no_spill", "x", "target <= 5x: "
        + ((Map<?, ?>) json.get("targets")).get("get_p99_during_spill_vs_no_spill <= 5"));
    sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", "verified", "", json.get("verified")));
    sb.append("-".repeat(96)).append('\n');
    sb.append(String.format(Locale.ROOT, "reference: memcpy 64 MiB %s GB/s; harness file write %s GB/s; "
            + "reload with memory full (details) %s GB/s, %s blobs spilled meanwhile%n",
        fmt(details.get("memcpy_64MiB_gbps")), fmt(details.get("file_write_gbps")),
        fmt(details.get("reload_under_pressure_gbps")), details.get("reload_under_pressure_spill_writes")));
    if (pageCache.containsKey("cold_drop_caches")) {
      sb.append("cold page cache: ").append(pageCache.get("cold_drop_caches")).append('\n');
    } else if (!coldCache) {
      sb.append("cold page cache: not measured (pass --cold-cache: syncs and drops the whole machine's page cache)\n");
    }
    if (!errors.isEmpty()) {
      sb.append("ERRORS:\n");
      errors.forEach(e -> sb.append("  ").append(e).append('\n'));
    }
    System.out.print(sb);
  }

  private static String sysctl(String name) {
    try {
      // Not readString: /proc files report a size of 0.
      return Files.readAllLines(Path.of("/proc/sys", name)).getFirst().strip();
    } catch (IOException | RuntimeException e) {
      return "?";
    }
  }

  private static void row(StringBuilder sb, Map<String, Object> json, String key, String unit, String notes) {
    sb.append(String.format(Locale.ROOT, "%-30s %12s  %s%n", key, (fmt(json.get(key)) + " " + unit).strip(), notes));
  }

  private static String pct(Object ratio) {
    Double d = num(ratio);
    return d == null ? "n/a" : String.format(Locale.ROOT, "%.0f%%", d * 100);
  }

  private static String percent(double fraction) {
    return Double.isNaN(fraction) ? "unknown" : String.format(Locale.ROOT, "%.0f%%", fraction * 100);
  }

  private static void log(String fmt, Object... args) {
    Measure.log("spill-bench", fmt, args);
  }
}
