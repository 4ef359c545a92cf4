package io.vineyard.bench;

import static io.vineyard.bench.Measure.deadline;
import static io.vineyard.bench.Measure.fmt;
import static io.vineyard.bench.Measure.gbps;
import static io.vineyard.bench.Measure.num;
import static io.vineyard.bench.Measure.round;

import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.StoreStats;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import java.lang.management.ManagementFactory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The IPC benchmark: measures, against a running {@code vineyardd}, in one run and as ratios
 * against an in-process memcpy baseline:
 *
 * <ul>
 *   <li>memcpy bandwidth ({@code MemorySegment.copy} between two pre-touched off-heap segments);
 *   <li>put bandwidth (createBlob + copy into the writer's segment + seal) at 1 MiB, 64 MiB and 1 GiB,
 *       on a warm arena;
 *   <li>get latency (getBlob + read one byte + close) of a 4 KiB and a 1 GiB blob from a second JVM;
 *   <li>small-operation throughput (4 KiB create + write + seal + get + close, deletes batched);
 *   <li>the daemon's heap in use, sampled after every phase.
 * </ul>
 *
 * <p>Prints a table and writes a JSON file. Nothing is asserted: the targets are reported as met or
 * not. Every loop is bounded both in iterations and in time.
 *
 * <p>Usage: {@code IpcBenchmark --socket PATH [--quick] [--out FILE] [--setting KEY=VALUE ...]}.
 */
public final class IpcBenchmark {

  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long GIB = 1024 * MIB;

  /** Deletes in the small-ops loop are sent in batches of this many ids. */
  static final int DELETE_BATCH = 1000;

  // Targets (reported, not asserted).
  static final double TARGET_PUT_RATIO = 0.70;
  static final double TARGET_GET_P50_US = 100;
  static final double TARGET_SMALL_OPS = 10_000;
  static final double TARGET_HEAP_MIB = 256;
  static final double TARGET_CONCURRENT_OPS = 30_000;
  static final double TARGET_CONCURRENT_RATIO = 3;

  /** Small ops in flight at once in the pipelined loop. */
  static final int PIPELINE_WINDOW = 64;
  /** Threads sharing one client in the multi-threaded loop. */
  static final int SHARED_CLIENT_THREADS = 4;
  /** Blobs per putBlobs / getBlobs call in the batched loop. */
  static final int BATCH = 64;
  /** The small ops' blob size. */
  static final int SMALL = 4 * 1024;

  /** Iteration and time bounds of one mode. */
  record Plan(
      String mode,
      long memcpyBytes,
      int memcpyReps,
      double memcpySeconds,
      int[] putWarmups,
      int[] putReps,
      double putSecondsPerSize,
      int getIterations,
      int getWarmup,
      double getSecondsPerSize,
      int smallOps,
      int smallWarmup,
      double smallSeconds,
      int jitWarmupOps,
      double jitWarmupSeconds,
      int concurrentOps,
      int concurrentWarmup) {

    static Plan quick() {
      return new Plan("quick", 256 * MIB, 10, 10, new int[] {50, 3, 2}, new int[] {100, 10, 3}, 15,
          2_000, 2_000, 5, 5_000, 2_000, 3, 10_000, 4, 60_000, 40_000);
    }

    static Plan full() {
      return new Plan("full", GIB, 10, 30, new int[] {100, 5, 2}, new int[] {500, 40, 10}, 45,
          10_000, 5_000, 15, 20_000, 5_000, 10, 20_000, 10, 200_000, 100_000);
    }
  }

  static final long[] PUT_SIZES = {MIB, 64 * MIB, GIB};
  static final String[] PUT_LABELS = {"1MiB", "64MiB", "1GiB"};

  private final Plan plan;
  private final Path socket;
  private final Map<String, String> settings;
  private final Map<String, Object> results = new LinkedHashMap<>();
  private final Map<String, Object> details = new LinkedHashMap<>();
  private final Map<String, Object> heapByPhase = new LinkedHashMap<>();
  private final List<String> errors = new ArrayList<>();
  private long maxHeapUsed = -1;
  private long heapMax = -1;
  private StoreStats firstStats;

  private IpcBenchmark(Plan plan, Path socket, Map<String, String> settings) {
    this.plan = plan;
    this.socket = socket;
    this.settings = settings;
  }

  public static void main(String[] args) throws IOException {
    Path socket = null;
    boolean quick = false;
    Path out = Path.of("benchmarks", "results", "latest.json");
    Map<String, String> settings = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--quick" -> quick = true;
        case "--socket" -> socket = Path.of(value(args, ++i, a));
        case "--out" -> out = Path.of(value(args, ++i, a));
        case "--setting" -> {
          String kv = value(args, ++i, a);
          int eq = kv.indexOf('=');
          if (eq <= 0) {
            usage("--setting takes KEY=VALUE, got " + kv);
          }
          settings.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        case "-h", "--help" -> {
          usage(null);
        }
        default -> usage("unknown argument " + a);
      }
    }
    if (socket == null) {
      socket = IpcClient.defaultSocket();
    }
    IpcBenchmark b = new IpcBenchmark(quick ? Plan.quick() : Plan.full(), socket, settings);
    int code = b.run(out);
    System.exit(code);
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      usage(flag + " needs a value");
    }
    return args[i];
  }

  private static void usage(String why) {
    if (why != null) {
      System.err.println("IpcBenchmark: " + why);
    }
    System.err.println("usage: IpcBenchmark --socket PATH [--quick] [--out FILE] [--setting KEY=VALUE ...]");
    System.exit(why == null ? 0 : 2);
  }

  // ---------------------------------------------------------------- run

  private int run(Path out) throws IOException {
    long started = System.nanoTime();
    Instant startedAt = Instant.now();
    log("mode %s, daemon at %s", plan.mode, socket);
    try (IpcClient client = IpcClient.connect(socket, Duration.ofMinutes(2), "bench");
        Arena arena = Arena.ofShared()) {
      firstStats = client.stats();
      sampleHeap(client, "start");

      // One pre-filled, pre-touched source for every copy: the largest put size.
      MemorySegment src = arena.allocate(GIB, 4096);
      fillPattern(src);

      // A freshly started daemon (and this JVM) runs its request path interpreted: a few
      // thousand untimed round trips of every kind first, so that no phase measures the JIT.
      phase("jit_warmup", () -> jitWarmup(client, src));
      sampleHeap(client, "jit_warmup");

      // The baseline is taken before and again after the puts (the same destination), so that a
      // drift of the machine's speed during the run shows, and weighs on both sides of the ratio.
      try (Arena dstArena = Arena.ofConfined()) {
        MemorySegment dst = dstArena.allocate(plan.memcpyBytes, 4096);
        dst.fill((byte) 1); // pre-touch every page
        Samples before = new Samples(plan.memcpyReps);
        Samples after = new Samples(plan.memcpyReps);
        phase("memcpy", () -> memcpy(src, dst, before));
        sampleHeap(client, "memcpy");
        phase("put", () -> puts(client, src));
        sampleHeap(client, "put");
        phase("memcpy_again", () -> memcpy(src, dst, after));
        memcpyResults(before, after);
      }
      phase("get", () -> gets(client, src));
      sampleHeap(client, "get");
      phase("small_ops", () -> smallOps(client, src));
      sampleHeap(client, "small_ops");
      phase("small_ops_concurrent", () -> concurrentSmallOps(client, src));
      sampleHeap(client, "small_ops_concurrent");
      StoreStats end = client.stats();
      details.put("daemon_blobs_left", end.blobCount());
      details.put("daemon_used_bytes_left", end.usedBytes());
    } catch (RuntimeException e) {
      errors.add("fatal: " + e);
      e.printStackTrace();
    }
    double seconds = (System.nanoTime() - started) / 1e9;

    Map<String, Object> json = assemble(startedAt, seconds);
    printTable(json);
    Measure.writeResults(out, json);
    return errors.isEmpty() ? 0 : 1;
  }

  private void phase(String name, Runnable body) {
    Measure.phase("bench", name, body, errors, details);
  }

  private void sampleHeap(IpcClient client, String after) {
    try {
      StoreStats s = client.stats();
      maxHeapUsed = Math.max(maxHeapUsed, s.heapUsedBytes());
      heapMax = s.heapMaxBytes();
      heapByPhase.put(after, round(s.heapUsedBytes() / (double) MIB, 1));
    } catch (RuntimeException e) {
      errors.add("stats after " + after + ": " + e);
    }
  }

  /** Samples the heap without recording a phase entry (inside loops, outside timed sections). */
  private void sampleHeapQuietly(IpcClient client) {
    try {
      StoreStats s = client.stats();
      maxHeapUsed = Math.max(maxHeapUsed, s.heapUsedBytes());
    } catch (RuntimeException e) {
      errors.add("stats: " + e);
    }
  }

  private static void fillPattern(MemorySegment seg) {
    seg.fill((byte) 0x5a);
    for (long off = 0; off < seg.byteSize(); off += 4096) {
      seg.set(ValueLayout.JAVA_BYTE, off, (byte) (off >>> 12));
    }
  }

  // ---------------------------------------------------------------- warm-up

  private void jitWarmup(IpcClient client, MemorySegment src) {
    List<ObjectId> pending = new ArrayList<>(DELETE_BATCH);
    long deadline = deadline(plan.jitWarmupSeconds);
    int ops = 0;
    long sink = 0;
    while (ops < plan.jitWarmupOps && System.nanoTime() < deadline) {
      sink += smallOp(client, src, ops % 2 == 0 ? 4 * KIB : 64 * KIB, pending);
      ops++;
      if (pending.size() >= DELETE_BATCH || ops % 7 == 0) {
        client.delete(pending, false, false);
        pending.clear();
      }
      if (ops % 100 == 0) {
        client.stats();
      }
    }
    if (!pending.isEmpty()) {
      client.delete(pending, false, false);
    }
    details.put("jit_warmup_ops", ops);
    details.put("sink_warmup", sink & 0xff);
  }

  // ---------------------------------------------------------------- memcpy baseline

  private void memcpy(MemorySegment src, MemorySegment dst, Samples s) {
    long n = dst.byteSize();
    MemorySegment from = src.asSlice(0, n);
    MemorySegment.copy(from, 0, dst, 0, n); // untimed warm-up (JIT, caches)
    long deadline = deadline(plan.memcpySeconds);
    while (!s.isFull() && (s.count() < 3 || System.nanoTime() < deadline)) {
      long t0 = System.nanoTime();
      MemorySegment.copy(from, 0, dst, 0, n);
      s.add(System.nanoTime() - t0);
    }
    if (dst.get(ValueLayout.JAVA_BYTE, n - 1) != from.get(ValueLayout.JAVA_BYTE, n - 1)) {
      throw new IllegalStateException("memcpy check failed");
    }
    log("memcpy %s: median %.2f GB/s, best %.2f GB/s (%d reps)",
        MemorySize.format(n), gbps(n, s.median()), gbps(n, s.min()), s.count());
  }

  /** The baseline: the median over the reps before and after the puts. */
  private void memcpyResults(Samples before, Samples after) {
    long n = plan.memcpyBytes;
    Samples all = new Samples(before.count() + after.count());
    before.forEach(all::add);
    after.forEach(all::add);
    if (all.count() == 0) {
      return;
    }
    results.put("memcpy_gbps", round(gbps(n, all.median()), 3));
    details.put("memcpy_best_gbps", round(gbps(n, all.min()), 3));
    details.put("memcpy_gbps_before_puts", round(gbps(n, before.median()), 3));
    details.put("memcpy_gbps_after_puts", round(gbps(n, after.median()), 3));
    details.put("memcpy_bytes", n);
    details.put("memcpy_reps", all.count());
  }

  // ---------------------------------------------------------------- put

  private static ObjectId putOnce(IpcClient client, MemorySegment src, long size) {
    try (BlobWriter w = client.createBlob(size)) {
      MemorySegment.copy(src, 0, w.segment(), 0, size);
      return w.seal();
    }
  }

  private void puts(IpcClient client, MemorySegment src) {
    for (int k = 0; k < PUT_SIZES.length; k++) {
      long size = PUT_SIZES[k];
      String label = PUT_LABELS[k];
      long phaseDeadline = deadline(plan.putSecondsPerSize);
      // Warm the arena (and this client's mapping of those pages): untimed puts, deleted.
      for (int i = 0; i < plan.putWarmups[k] && (i < 1 || System.nanoTime() < phaseDeadline); i++) {
        client.delete(putOnce(client, src, size));
      }
      if (size >= GIB) {
        sampleHeapQuietly(client);
      }
      Samples total = new Samples(plan.putReps[k]);
      Samples create = new Samples(plan.putReps[k]);
      Samples copy = new Samples(plan.putReps[k]);
      Samples seal = new Samples(plan.putReps[k]);
      while (!total.isFull() && (total.count() < 3 || System.nanoTime() < phaseDeadline)) {
        ObjectId id;
        long t0 = System.nanoTime();
        long t1;
        long t2;
        try (BlobWriter w = client.createBlob(size)) {
          t1 = System.nanoTime();
          MemorySegment.copy(src, 0, w.segment(), 0, size);
          t2 = System.nanoTime();
          id = w.seal();
        }
        long t3 = System.nanoTime();
        total.add(t3 - t0);
        create.add(t1 - t0);
        copy.add(t2 - t1);
        seal.add(t3 - t2);
        client.delete(id);
        if (size >= GIB) {
          sampleHeapQuietly(client);
        }
      }
      double g = gbps(size, total.median());
      results.put("put_gbps_" + label, round(g, 3));
      details.put("put_best_gbps_" + label, round(gbps(size, total.min()), 3));
      details.put("put_reps_" + label, total.count());
      details.put("put_create_us_" + label, round(create.median() / 1e3, 1));
      details.put("put_copy_gbps_" + label, round(gbps(size, copy.median()), 3));
      details.put("put_seal_us_" + label, round(seal.median() / 1e3, 1));
      log("put %s: median %.2f GB/s, best %.2f GB/s (%d reps; create %.0f us, copy %.2f GB/s, seal %.0f us)",
          label, g, gbps(size, total.min()), total.count(), create.median() / 1e3,
          gbps(size, copy.median()), seal.median() / 1e3);
    }
  }

  // ---------------------------------------------------------------- get (from a second process)

  private void gets(IpcClient client, MemorySegment src) {
    ObjectId small = putOnce(client, src, 4 * KIB);
    ObjectId big = null;
    try {
      big = putOnce(client, src, GIB);
      sampleHeapQuietly(client);
      Map<String, Double> child = runChild(List.of("4KiB=" + small, "1GiB=" + big));
      for (String label : List.of("4KiB", "1GiB")) {
        results.put("get_p50_us_" + label, round(child.getOrDefault("get_p50_us_" + label, Double.NaN), 1));
        results.put("get_p99_us_" + label, round(child.getOrDefault("get_p99_us_" + label, Double.NaN), 1));
        details.put("get_p90_us_" + label, round(child.getOrDefault("get_p90_us_" + label, Double.NaN), 1));
        details.put("get_mean_us_" + label, round(child.getOrDefault("get_mean_us_" + label, Double.NaN), 1));
        details.put("get_max_us_" + label, round(child.getOrDefault("get_max_us_" + label, Double.NaN), 1));
        details.put("get_samples_" + label, child.getOrDefault("get_samples_" + label, Double.NaN).longValue());
        details.put("get_p50_us_getblob_part_" + label, round(child.getOrDefault("get_p50_us_getblob_part_" + label, Double.NaN), 1));
        details.put("get_p50_us_close_part_" + label, round(child.getOrDefault("get_p50_us_close_part_" + label, Double.NaN), 1));
      }
    } finally {
      client.delete(big == null ? List.of(small) : List.of(small, big), false, false);
    }
  }

  private Map<String, Double> runChild(List<String> blobs) {
    String java =
        ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>(List.of(java));
    // The same access flags as this JVM (bin/java-env chose them for the JDK in use).
    for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--enable-native-access") || arg.startsWith("--add-opens") || arg.startsWith("--sun-misc")) {
        cmd.add(arg);
      }
    }
    cmd.addAll(List.of(
        "-cp", System.getProperty("java.class.path"),
        GetLatencyChild.class.getName(),
        "--socket", socket.toString(),
        "--iterations", Integer.toString(plan.getIterations),
        "--warmup", Integer.toString(plan.getWarmup),
        "--max-seconds", Double.toString(plan.getSecondsPerSize)));
    for (String b : blobs) {
      cmd.add("--blob");
      cmd.add(b);
    }
    ProcessBuilder pb = new ProcessBuilder(cmd);
    long timeoutSeconds = 60 + (long) (blobs.size() * plan.getSecondsPerSize * 1.5);
    Map<String, Double> result = Measure.runJsonChild(pb, "get-latency child", timeoutSeconds);
    details.put("get_child_pid", result.getOrDefault("child_pid", -1.0).longValue());
    return result;
  }



  // ---------------------------------------------------------------- small ops

  private void smallOps(IpcClient client, MemorySegment src) {
    long size = 4 * KIB;
    List<ObjectId> pending = new ArrayList<>(DELETE_BATCH);
    long[] stage = new long[5]; // create, write, seal, get+read, close
    long sink = 0;

    // Untimed warm-up of exactly the methods the timed loops call (they are compiled as methods,
    // not left to on-stack replacement of a loop that runs only a few thousand times).
    long warmDeadline = deadline(plan.smallSeconds / 2);
    for (int i = 0; i < plan.smallWarmup && System.nanoTime() < warmDeadline; i++) {
      sink += timedSmallOp(client, src, size, pending, stage);
      sink += smallOpDeleteEach(client, src, size);
      if (pending.size() >= DELETE_BATCH) {
        client.delete(pending, false, false);
        pending.clear();
      }
    }
    if (!pending.isEmpty()) {
      client.delete(pending, false, false);
      pending.clear();
    }
    java.util.Arrays.fill(stage, 0);

    // Timed: deletes batched every DELETE_BATCH ops; their time is included.
    long deleteNanos = 0;
    int ops = 0;
    long deadline = deadline(plan.smallSeconds);
    CpuWindow cpu = new CpuWindow();
    long t0 = System.nanoTime();
    while (ops < plan.smallOps && System.nanoTime() < deadline) {
      sink += timedSmallOp(client, src, size, pending, stage);
      ops++;
      if (pending.size() >= DELETE_BATCH) {
        long g = System.nanoTime();
        client.delete(pending, false, false);
        pending.clear();
        deleteNanos += System.nanoTime() - g;
      }
    }
    if (!pending.isEmpty()) {
      long g = System.nanoTime();
      client.delete(pending, false, false);
      pending.clear();
      deleteNanos += System.nanoTime() - g;
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    cpu.report("small_ops", ops);
    double perSecond = ops / seconds;
    results.put("small_ops_per_s", round(perSecond, 0));
    details.put("small_ops_count", ops);
    details.put("small_ops_seconds", round(seconds, 3));
    details.put("small_ops_delete_mode", "batched: delete(List, false, false) every " + DELETE_BATCH
        + " ops, time included");
    String[] names = {"create", "write", "seal", "get_read", "close"};
    for (int i = 0; i < names.length; i++) {
      details.put("small_ops_us_" + names[i], round(stage[i] / 1e3 / Math.max(ops, 1), 2));
    }
    details.put("small_ops_us_delete_amortized", round(deleteNanos / 1e3 / Math.max(ops, 1), 2));
    log("small ops (batched deletes): %d ops in %.2f s = %.0f ops/s", ops, seconds, perSecond);

    // Variant: a delete per op, counted in the op.
    int ops2 = 0;
    long deadline2 = deadline(plan.smallSeconds);
    long u0 = System.nanoTime();
    while (ops2 < plan.smallOps && System.nanoTime() < deadline2) {
      sink += smallOpDeleteEach(client, src, size);
      ops2++;
    }
    double seconds2 = (System.nanoTime() - u0) / 1e9;
    details.put("small_ops_per_s_delete_each", round(ops2 / seconds2, 0));
    details.put("small_ops_count_delete_each", ops2);
    log("small ops (delete each): %d ops in %.2f s = %.0f ops/s", ops2, seconds2, ops2 / seconds2);
    details.put("sink", sink & 0xff);
  }

  // ---------------------------------------------------------------- small ops, concurrent

  /** What one timed loop of small ops did. */
  private record Loop(int ops, long nanos, long deleteNanos, long mismatches) {
    double perSecond() {
      return ops / (nanos / 1e9);
    }
  }

  /** The byte a small op writes last and checks on the way back: differs from one op to the next. */
  private static byte tag(long op) {
    return (byte) (op * 31 + 7);
  }

  /** Deletes {@code pending} (batched, as in small_ops_per_s) and returns the time it took. */
  private static long flush(IpcClient client, List<ObjectId> pending) {
    if (pending.isEmpty()) {
      return 0;
    }
    long g = System.nanoTime();
    client.delete(pending, false, false);
    pending.clear();
    return System.nanoTime() - g;
  }

  /**
   * The same small op as small_ops_per_s, three more ways: pipelined from one thread, four threads
   * sharing the client, and (an extra) with the batch calls. Deletes are batched as there: a
   * {@code delete(List, false, false)} every {@link #DELETE_BATCH} ops, its time included.
   */
  private void concurrentSmallOps(IpcClient client, MemorySegment src) {
    Double base = num(results.get("small_ops_per_s"));
    // Untimed warm-up of the methods the timed loops call, in this JVM and in the daemon (whose
    // paths for requests in flight together, and for batches, the blocking warm-up did not run):
    // with 1 s each, the daemon's C2 compiler still took a third of a CPU during the timed loops.
    double warm = plan.smallSeconds * 2 / 3;
    Loop w1 = pipelined(client, src, plan.concurrentWarmup, warm, null);
    Loop w2 = threaded(client, src, plan.concurrentWarmup, warm, null);
    Loop w3 = batched(client, src, plan.concurrentWarmup, warm, null);
    details.put("small_ops_concurrent_warmup_ops", w1.ops() + w2.ops() + w3.ops());
    long warmMismatches = w1.mismatches() + w2.mismatches() + w3.mismatches();

    Loop p = pipelined(client, src, plan.concurrentOps, plan.smallSeconds, "small_ops_pipelined");
    Loop t = threaded(client, src, plan.concurrentOps, plan.smallSeconds, "small_ops_4_threads");
    Loop b = batched(client, src, plan.concurrentOps, plan.smallSeconds, "small_ops_batched");
    record Named(String key, Loop loop) {}
    for (Named n : List.of(new Named("small_ops_per_s_pipelined", p), new Named("small_ops_per_s_4_threads", t),
        new Named("small_ops_per_s_batched", b))) {
      Loop l = n.loop();
      results.put(n.key(), round(l.perSecond(), 0));
      results.put(n.key().replace("small_ops_per_s_", "small_ops_ratio_"),
          base == null ? null : round(l.perSecond() / base, 2));
      String d = n.key().replace("small_ops_per_s_", "small_ops_");
      details.put(d + "_count", l.ops());
      details.put(d + "_seconds", round(l.nanos() / 1e9, 3));
      details.put(d + "_us_delete_amortized", round(l.deleteNanos() / 1e3 / Math.max(l.ops(), 1), 2));
      details.put(d + "_verified", (l.ops() - l.mismatches()) + " of " + l.ops());
      if (l.mismatches() > 0) {
        errors.add(n.key() + ": " + l.mismatches() + " ops read back another byte than they wrote");
      }
    }
    if (warmMismatches > 0) {
      errors.add("small_ops_concurrent warm-up: " + warmMismatches + " ops read back another byte than they wrote");
    }
    details.put("small_ops_pipelined_window", PIPELINE_WINDOW);
    details.put("small_ops_4_threads_threads", SHARED_CLIENT_THREADS);
    details.put("small_ops_batched_batch", BATCH);
    log("small ops pipelined (window %d): %d ops = %.0f ops/s; %d threads: %d ops = %.0f ops/s;"
            + " batched (%d a call): %d ops = %.0f ops/s; one thread blocking: %s ops/s",
        PIPELINE_WINDOW, p.ops(), p.perSecond(), SHARED_CLIENT_THREADS, t.ops(), t.perSecond(), BATCH, b.ops(),
        b.perSecond(), fmt(base));
  }

  /** One op of the pipelined loop: its own source (it must not change while the put is in flight). */
  private static final class Slot {
    final MemorySegment src;
    byte tag;
    CompletableFuture<ObjectId> put;
    ObjectId id;
    CompletableFuture<List<Blob>> get;

    Slot(MemorySegment src) {
      this.src = src;
    }
  }

  /**
   * One thread keeps {@link #PIPELINE_WINDOW} ops in flight: each op is {@code putBlobAsync} of a
   * 4 KiB segment (written just before: the copy from the source and the op's tag byte), then, once
   * its id is known, {@code getBlobsAsync}, then read the last byte (checked against the tag) and
   * close. The thread takes the oldest op in flight, waits for its current stage, and starts its next
   * stage or a new op in its place, so puts and gets of different ops overlap.
   *
   * @param cpuKey where to put the CPU accounting, or null (warm-up)
   */
  private Loop pipelined(IpcClient client, MemorySegment src, int maxOps, double seconds, String cpuKey) {
    List<ObjectId> pending = new ArrayList<>(DELETE_BATCH + PIPELINE_WINDOW);
    ArrayDeque<Slot> ring = new ArrayDeque<>(PIPELINE_WINDOW);
    long deleteNanos = 0;
    long mismatches = 0;
    int issued = 0;
    int done = 0;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment slots = a.allocate((long) SMALL * PIPELINE_WINDOW, 4096);
      CpuWindow cpu = new CpuWindow();
      long deadline = deadline(seconds);
      long t0 = System.nanoTime();
      for (int i = 0; i < PIPELINE_WINDOW && issued < maxOps; i++) {
        Slot s = new Slot(slots.asSlice((long) i * SMALL, SMALL));
        startPut(client, src, s, issued++);
        ring.addLast(s);
      }
      while (!ring.isEmpty()) {
        Slot s = ring.pollFirst();
        if (s.get == null) {
          s.id = s.put.join();
          s.get = client.getBlobsAsync(List.of(s.id));
          ring.addLast(s);
          continue;
        }
        Blob blob = s.get.join().getFirst();
        byte v = blob.segment().get(ValueLayout.JAVA_BYTE, SMALL - 1);
        blob.close();
        if (v != s.tag) {
          mismatches++;
        }
        pending.add(s.id);
        done++;
        if (pending.size() >= DELETE_BATCH) {
          deleteNanos += flush(client, pending);
        }
        if (issued < maxOps && System.nanoTime() < deadline) {
          startPut(client, src, s, issued++);
          ring.addLast(s);
        }
      }
      deleteNanos += flush(client, pending);
      long nanos = System.nanoTime() - t0;
      if (cpuKey != null) {
        cpu.report(cpuKey, done);
      }
      return new Loop(done, nanos, deleteNanos, mismatches);
    } finally {
      // On a failure: let what is in flight finish, so that nothing outlives the arena.
      for (Slot s : ring) {
        try {
          if (s.get != null) {
            s.get.join().forEach(Blob::close);
          } else {
            pending.add(s.put.join());
          }
        } catch (RuntimeException e) {
          // already failing
        }
      }
      if (!pending.isEmpty()) {
        try {
          client.delete(pending, false, false);
        } catch (RuntimeException e) {
          // already failing
        }
      }
    }
  }

  private static void startPut(IpcClient client, MemorySegment src, Slot s, long op) {
    MemorySegment.copy(src, 0, s.src, 0, SMALL);
    s.tag = tag(op);
    s.src.set(ValueLayout.JAVA_BYTE, SMALL - 1, s.tag);
    s.id = null;
    s.get = null;
    s.put = client.putBlobAsync(s.src);
  }

  /**
   * {@link #SHARED_CLIENT_THREADS} threads share the one client, each running the blocking op of
   * small_ops_per_s (createBlob, copy, tag byte, seal, getBlob, read and check, close) with its own
   * batched deletes. The figure is all threads' ops over the time from their common start to the
   * last one's end.
   */
  private Loop threaded(IpcClient client, MemorySegment src, int maxOps, double seconds, String cpuKey) {
    int n = SHARED_CLIENT_THREADS;
    int perThread = Math.max(1, maxOps / n);
    int[] ops = new int[n];
    long[] deletes = new long[n];
    long[] mismatches = new long[n];
    Throwable[] failed = new Throwable[n];
    long[] workerCpu = new long[n];
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(n + 1);
    List<Thread> threads = new ArrayList<>();
    long[] deadline = new long[1];
    for (int k = 0; k < n; k++) {
      int me = k;
      threads.add(Thread.ofPlatform().name("small-ops-" + k).start(() -> {
        List<ObjectId> pending = new ArrayList<>(DELETE_BATCH);
        try {
          start.await();
          long end = deadline[0];
          long op = (long) me << 32;
          while (ops[me] < perThread && System.nanoTime() < end) {
            if (blockingTaggedOp(client, src, pending, op++) != 0) {
              mismatches[me]++;
            }
            ops[me]++;
            if (pending.size() >= DELETE_BATCH) {
              deletes[me] += flush(client, pending);
            }
          }
          deletes[me] += flush(client, pending);
          workerCpu[me] = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        } catch (Throwable e) {
          failed[me] = e;
          try {
            flush(client, pending);
          } catch (RuntimeException again) {
            // already failing
          }
        }
      }));
    }
    CpuWindow cpu = new CpuWindow();
    deadline[0] = deadline(seconds);
    long t0 = System.nanoTime();
    try {
      start.await();
      for (Thread th : threads) {
        th.join();
      }
    } catch (InterruptedException | java.util.concurrent.BrokenBarrierException e) {
      threads.forEach(Thread::interrupt);
      throw new IllegalStateException("interrupted waiting for the small-op threads", e);
    }
    long nanos = System.nanoTime() - t0;
    for (Throwable f : failed) {
      if (f != null) {
        throw new IllegalStateException("a small-op thread failed: " + f, f);
      }
    }
    int total = 0;
    long del = 0;
    long bad = 0;
    for (int k = 0; k < n; k++) {
      total += ops[k];
      del += deletes[k];
      bad += mismatches[k];
    }
    if (cpuKey != null) {
      cpu.report(cpuKey, total);
      // The workers have ended, so /proc no longer lists them: their own CPU time, as they saw it.
      details.put(cpuKey + "_worker_threads_cpu_ms",
          java.util.Arrays.stream(workerCpu).map(c -> c / 1_000_000).boxed().toList().toString());
    }
    // Delete time is summed over the threads; per op it is what each op's thread spent.
    return new Loop(total, nanos, del, bad);
  }

  /** The blocking op of small_ops_per_s plus a tag byte; returns 0 if the tag read back matches. */
  private static int blockingTaggedOp(IpcClient client, MemorySegment src, List<ObjectId> pending, long op) {
    byte t = tag(op);
    ObjectId id;
    try (BlobWriter w = client.createBlob(SMALL)) {
      MemorySegment.copy(src, 0, w.segment(), 0, SMALL);
      w.segment().set(ValueLayout.JAVA_BYTE, SMALL - 1, t);
      id = w.seal();
    }
    pending.add(id);
    byte v;
    try (Blob blob = client.getBlob(id)) {
      v = blob.segment().get(ValueLayout.JAVA_BYTE, SMALL - 1);
    }
    return v == t ? 0 : 1;
  }

  /**
   * An extra, not one of the asked figures: the same ops, {@link #BATCH} at a time with the batch
   * calls, blocking, one thread: {@code putBlobs} of 64 arrays (copied from the source, tagged),
   * then {@code getBlobs} of their ids, then read and check each last byte and close them all inside
   * {@code batchReleases} (one release message).
   */
  private Loop batched(IpcClient client, MemorySegment src, int maxOps, double seconds, String cpuKey) {
    List<ObjectId> pending = new ArrayList<>(DELETE_BATCH + BATCH);
    byte[][] arrays = new byte[BATCH][SMALL];
    List<byte[]> batch = new ArrayList<>(BATCH);
    long deleteNanos = 0;
    long[] mismatches = new long[1];
    int done = 0;
    long op = 0;
    CpuWindow cpu = new CpuWindow();
    long deadline = deadline(seconds);
    long t0 = System.nanoTime();
    try {
      while (done < maxOps && System.nanoTime() < deadline) {
        int m = Math.min(BATCH, maxOps - done);
        batch.clear();
        for (int i = 0; i < m; i++) {
          MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, arrays[i], 0, SMALL);
          arrays[i][SMALL - 1] = tag(op + i);
          batch.add(arrays[i]);
        }
        List<ObjectId> ids = client.putBlobs(batch);
        pending.addAll(ids);
        List<Blob> blobs = client.getBlobs(ids);
        long first = op;
        client.batchReleases(() -> {
          for (int i = 0; i < blobs.size(); i++) {
            Blob blob = blobs.get(i);
            if (blob.segment().get(ValueLayout.JAVA_BYTE, SMALL - 1) != tag(first + i)) {
              mismatches[0]++;
            }
            blob.close();
          }
        });
        op += m;
        done += m;
        if (pending.size() >= DELETE_BATCH) {
          deleteNanos += flush(client, pending);
        }
      }
      deleteNanos += flush(client, pending);
    } finally {
      if (!pending.isEmpty()) {
        try {
          client.delete(pending, false, false);
        } catch (RuntimeException e) {
          // already failing
        }
      }
    }
    long nanos = System.nanoTime() - t0;
    if (cpuKey != null) {
      cpu.report(cpuKey, done);
    }
    return new Loop(done, nanos, deleteNanos, mismatches[0]);
  }

  /**
   * CPU used over a timed loop, from /proc: the daemon's (and its busiest threads), this harness's,
   * and the whole machine's, so that a rate can be read against what limits it.
   */
  private final class CpuWindow {
    private final long daemonPid = daemonPid();
    private final long t0 = System.nanoTime();
    private final long daemon0 = Measure.cpuMillis(daemonPid);
    private final long self0 = Measure.cpuMillis(ProcessHandle.current().pid());
    private final long machine0 = Measure.machineBusyMillis();
    private final Map<String, Long> daemonThreads0 = Measure.threadCpuMillis(daemonPid);
    private final Map<String, Long> selfThreads0 = Measure.threadCpuMillis(ProcessHandle.current().pid());

    void report(String key, long ops) {
      double wallMs = (System.nanoTime() - t0) / 1e6;
      long self = Measure.cpuMillis(ProcessHandle.current().pid()) - self0;
      long machine = Measure.machineBusyMillis() - machine0;
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("wall_ms", round(wallMs, 1));
      if (daemon0 >= 0) {
        long daemon = Measure.cpuMillis(daemonPid) - daemon0;
        m.put("daemon_cpus", round(daemon / wallMs, 2));
        m.put("daemon_us_per_op", round(daemon * 1e3 / Math.max(ops, 1), 1));
        m.put("daemon_busiest_threads", Measure.topThreads(daemonThreads0, Measure.threadCpuMillis(daemonPid), 4));
      }
      m.put("harness_cpus", round(self / wallMs, 2));
      m.put("harness_us_per_op", round(self * 1e3 / Math.max(ops, 1), 1));
      m.put("harness_busiest_threads",
          Measure.topThreads(selfThreads0, Measure.threadCpuMillis(ProcessHandle.current().pid()), 4));
      m.put("machine_busy_cpus", round(machine / wallMs, 2));
      if (daemon0 >= 0) {
        // What neither the daemon nor the harness used: other load on the machine (10 ms ticks).
        long daemon = Measure.cpuMillis(daemonPid) - daemon0;
        m.put("other_processes_cpus", round(Math.max(0, machine - daemon - self) / wallMs, 2));
      }
      details.put(key + "_cpu", m);
    }
  }

  private long daemonPid() {
    try {
      return Long.parseLong(settings.getOrDefault("daemon_pid", "-1"));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** One small op with its stages timed into {@code stage}; the id goes to {@code pending}. */
  private static long timedSmallOp(
      IpcClient client, MemorySegment src, long size, List<ObjectId> pending, long[] stage) {
    long a = System.nanoTime();
    ObjectId id;
    long b;
    long c;
    try (BlobWriter w = client.createBlob(size)) {
      b = System.nanoTime();
      MemorySegment.copy(src, 0, w.segment(), 0, size);
      c = System.nanoTime();
      id = w.seal();
    }
    long d = System.nanoTime();
    Blob blob = client.getBlob(id);
    long v = blob.segment().get(ValueLayout.JAVA_BYTE, size - 1);
    long e = System.nanoTime();
    blob.close();
    long f = System.nanoTime();
    stage[0] += b - a;
    stage[1] += c - b;
    stage[2] += d - c;
    stage[3] += e - d;
    stage[4] += f - e;
    pending.add(id);
    return v;
  }

  /** One small op that deletes its blob at the end. */
  private static long smallOpDeleteEach(IpcClient client, MemorySegment src, long size) {
    ObjectId id = putOnce(client, src, size);
    long v;
    try (Blob blob = client.getBlob(id)) {
      v = blob.segment().get(ValueLayout.JAVA_BYTE, size - 1);
    }
    client.delete(id);
    return v;
  }

  private static long smallOp(IpcClient client, MemorySegment src, long size, List<ObjectId> pending) {
    ObjectId id = putOnce(client, src, size);
    pending.add(id);
    try (Blob blob = client.getBlob(id)) {
      return blob.segment().get(ValueLayout.JAVA_BYTE, size - 1);
    }
  }

  // ---------------------------------------------------------------- report

  private Map<String, Object> assemble(Instant startedAt, double seconds) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("timestamp", startedAt.truncatedTo(ChronoUnit.SECONDS).toString());
    json.put("mode", plan.mode);
    json.put("memcpy_gbps", results.get("memcpy_gbps")); // first, whenever it was measured
    json.putAll(results);
    Double memcpy = num(results.get("memcpy_gbps"));
    for (String label : PUT_LABELS) {
      Double put = num(results.get("put_gbps_" + label));
      json.put("put_vs_memcpy_" + label, memcpy == null || put == null ? null : round(put / memcpy, 3));
    }
    json.put("daemon_heap_mib", maxHeapUsed < 0 ? null : round(maxHeapUsed / (double) MIB, 1));
    json.put("daemon_heap_max_mib", heapMax < 0 ? null : round(heapMax / (double) MIB, 1));
    json.put("daemon_heap_mib_after_phase", heapByPhase);

    Map<String, Object> targets = new LinkedHashMap<>();
    targets.put("put_vs_memcpy_64MiB >= 0.70", met(num(json.get("put_vs_memcpy_64MiB")), ">=", TARGET_PUT_RATIO));
    targets.put("put_vs_memcpy_1GiB >= 0.70", met(num(json.get("put_vs_memcpy_1GiB")), ">=", TARGET_PUT_RATIO));
    targets.put("get_p50_us_4KiB <= 100", met(num(json.get("get_p50_us_4KiB")), "<=", TARGET_GET_P50_US));
    targets.put("get_p50_us_1GiB <= 100", met(num(json.get("get_p50_us_1GiB")), "<=", TARGET_GET_P50_US));
    targets.put("small_ops_per_s >= 10000", met(num(json.get("small_ops_per_s")), ">=", TARGET_SMALL_OPS));
    for (String k : List.of("pipelined", "4_threads")) {
      targets.put("small_ops_per_s_" + k + " >= 30000",
          met(num(json.get("small_ops_per_s_" + k)), ">=", TARGET_CONCURRENT_OPS));
      targets.put("small_ops_ratio_" + k + " >= 3",
          met(num(json.get("small_ops_ratio_" + k)), ">=", TARGET_CONCURRENT_RATIO));
    }
    targets.put("daemon_heap_mib < 256", met(num(json.get("daemon_heap_mib")), "<", TARGET_HEAP_MIB));
    json.put("targets", targets);

    Map<String, Object> daemon = new LinkedHashMap<>(settings);
    if (firstStats != null) {
      daemon.put("capacity_bytes", firstStats.capacityBytes());
      daemon.put("instance_id", firstStats.instanceId());
    }
    daemon.put("socket", socket.toString());
    json.put("daemon", daemon);

    Map<String, Object> host = new LinkedHashMap<>();
    host.put("cpus", Runtime.getRuntime().availableProcessors());
    host.put("java_version", System.getProperty("java.vm.version"));
    host.put("java_vm", System.getProperty("java.vm.name"));
    host.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
    json.put("host", host);
    json.put("details", details);
    json.put("seconds", round(seconds, 1));
    json.put("errors", errorsAsMap());
    return json;
  }

  private Map<String, Object> errorsAsMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < errors.size(); i++) {
      m.put(Integer.toString(i + 1), errors.get(i));
    }
    return m;
  }

  /** "met", "NOT met", or "n/a" when the figure is missing; {@code op} is one of >=, <=, <. */
  private static String met(Double value, String op, double target) {
    if (value == null || value.isNaN()) {
      return "n/a";
    }
    boolean ok = switch (op) {
      case ">=" -> value >= target;
      case "<=" -> value <= target;
      case "<" -> value < target;
      default -> throw new IllegalArgumentException(op);
    };
    return ok ? "met" : "NOT met";
  }

  private void printTable(Map<String, Object> json) {
    StringBuilder sb = new StringBuilder();
    sb.append('\n').append(String.format(Locale.ROOT, "Vineyard IPC benchmark, %s mode, %s%n", plan.mode, json.get("timestamp")));
    sb.append(String.format(Locale.ROOT, "daemon: %s%n", json.get("daemon")));
    sb.append(String.format(Locale.ROOT, "%-22s %14s  %-26s %s%n", "metric", "value", "target", "status"));
    sb.append("-".repeat(74)).append('\n');
    row(sb, json, "memcpy_gbps", "GB/s", "baseline", null);
    for (String label : PUT_LABELS) {
      String key = "put_gbps_" + label;
      Double ratio = num(json.get("put_vs_memcpy_" + label));
      String target = (label.equals("1MiB") ? "(info)" : ">= 70% of memcpy")
          + (ratio == null ? "" : String.format(Locale.ROOT, ", is %.0f%%", ratio * 100));
      String status = label.equals("1MiB") ? null : "put_vs_memcpy_" + label + " >= 0.70";
      row(sb, json, key, "GB/s", target, status);
    }
    row(sb, json, "get_p50_us_4KiB", "us", "<= 100 us", "get_p50_us_4KiB <= 100");
    row(sb, json, "get_p99_us_4KiB", "us", "(info)", null);
    row(sb, json, "get_p50_us_1GiB", "us", "<= 100 us", "get_p50_us_1GiB <= 100");
    row(sb, json, "get_p99_us_1GiB", "us", "(info)", null);
    row(sb, json, "small_ops_per_s", "/s", ">= 10,000 /s", "small_ops_per_s >= 10000");
    sb.append(String.format(Locale.ROOT, "%-22s %14s  %-26s%n", "  (delete each op)",
        fmt(details.get("small_ops_per_s_delete_each")) + " /s", "(info)"));
    for (String k : List.of("pipelined", "4_threads")) {
      row(sb, json, "small_ops_per_s_" + k, "/s", ">= 30,000 /s", "small_ops_per_s_" + k + " >= 30000");
      row(sb, json, "small_ops_ratio_" + k, "x", ">= 3x small_ops_per_s", "small_ops_ratio_" + k + " >= 3");
    }
    row(sb, json, "small_ops_per_s_batched", "/s", String.format(Locale.ROOT, "(extra) %sx",
        fmt(json.get("small_ops_ratio_batched"))), null);
    row(sb, json, "daemon_heap_mib", "MiB", "< 256 MiB", "daemon_heap_mib < 256");
    sb.append("-".repeat(74)).append('\n');
    sb.append("small_ops_per_s: 4 KiB create + write + seal + get + read 1 byte + close; ")
        .append("deletes batched every ").append(DELETE_BATCH).append(" ops (time included)\n");
    sb.append("  _pipelined: ").append(PIPELINE_WINDOW).append(" ops in flight from one thread (putBlobAsync, getBlobsAsync);")
        .append(" _4_threads: ").append(SHARED_CLIENT_THREADS).append(" threads, one client, blocking;")
        .append(" _batched (extra): putBlobs/getBlobs of ").append(BATCH).append("\n");
    for (String k : List.of("small_ops", "small_ops_pipelined", "small_ops_4_threads", "small_ops_batched")) {
      if (details.get(k + "_cpu") instanceof Map<?, ?> m) {
        sb.append(String.format(Locale.ROOT, "  cpu %-20s daemon %s CPUs (%s us/op), harness %s CPUs (%s us/op), machine %s"
                + " CPUs busy (other processes %s)%n      daemon threads: %s%n      harness threads: %s%n", k,
            m.get("daemon_cpus"), m.get("daemon_us_per_op"), m.get("harness_cpus"), m.get("harness_us_per_op"),
            m.get("machine_busy_cpus"), m.get("other_processes_cpus"), m.get("daemon_busiest_threads"),
            m.get("harness_busiest_threads")));
      }
    }
    sb.append(String.format(Locale.ROOT, "daemon heap after each phase (MiB): %s; heap max %s MiB%n",
        heapByPhase, json.get("daemon_heap_max_mib")));
    if (!errors.isEmpty()) {
      sb.append("ERRORS:\n");
      errors.forEach(e -> sb.append("  ").append(e).append('\n'));
    }
    System.out.print(sb);
  }

  @SuppressWarnings("unchecked")
  private static void row(StringBuilder sb, Map<String, Object> json, String key, String unit, String target, String status) {
    String st = status == null ? "" : ((Map<String, Object>) json.get("targets")).get(status).toString();
    sb.append(String.format(Locale.ROOT, "%-22s %14s  %-26s %s%n", key, fmt(json.get(key)) + " " + unit, target, st));
  }

  private static void log(String fmt, Object... args) {
    Measure.log("bench", fmt, args);
  }
}
