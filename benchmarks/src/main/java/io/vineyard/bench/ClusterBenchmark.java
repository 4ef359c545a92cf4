package io.vineyard.bench;

import static io.vineyard.bench.Measure.deadline;
import static io.vineyard.bench.Measure.fmt;
import static io.vineyard.bench.Measure.gbps;
import static io.vineyard.bench.Measure.num;
import static io.vineyard.bench.Measure.round;

import io.vineyard.InstanceInfo;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.client.RpcClient;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The cluster benchmark: two daemons, A and B, sharing etcd metadata, each with a gRPC port.
 * Measures, in one run and as ratios against an in-process memcpy baseline:
 *
 * <ul>
 *   <li>memcpy bandwidth ({@code MemorySegment.copy} of one object's size between two pre-touched
 *       off-heap segments of this process), before and after the remote phases;
 *   <li>{@code RpcClient(A).fetchBlob} of a blob A holds, into a pre-touched off-heap segment of this
 *       process (A's gRPC port, loopback);
 *   <li>{@code IpcClient(B).migrate} of an object (one blob + its metadata) that A persisted: daemon
 *       B pulls the blob from A's gRPC port into its own shared memory. Before each rep the replica
 *       of the previous one is deleted on B (deep), so every migrate copies the whole blob.
 * </ul>
 *
 * <p>The migrated bytes, and the fetched ones, are checked once against the source (CRC32C of all of
 * them). Prints a table and writes a JSON file. Nothing is asserted: the target (fetch and migrate at
 * 1 GB/s or more) is reported as met or not. Every loop is bounded both in iterations and in time.
 *
 * <p>Usage: {@code ClusterBenchmark --socket-a PATH --socket-b PATH [--quick] [--out FILE]
 * [--setting KEY=VALUE ...] [--and (a second pair's flags)]}. Both daemons of a pair must run with
 * {@code --meta etcd} on the same etcd and prefix, and serve gRPC. With a second pair (a TLS one,
 * say) both are measured in the same run, taking turns: one pair works at a time, and their timed reps
 * alternate, so that both see the same machine.
 */
public final class ClusterBenchmark {

  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long GIB = 1024 * MIB;

  /**
   * A transfer counts as run with the JIT settled when the compiler threads of both ends used at
   * most this share of its wall time (their /proc counters tick every 10 ms).
   */
  static final double SETTLED_JIT_SHARE = 0.02;

  /** Target (reported, not asserted): fetch and migrate at this many GB/s or more. */
  static final double TARGET_GBPS = 1.0;

  /** Iteration and time bounds of one mode. */
  record Plan(
      String mode,
      long objectBytes,
      long warmObjectBytes,
      int memcpyReps,
      double memcpySeconds,
      int warmFetches,
      int warmMigrates,
      double warmSeconds,
      int fetchReps,
      double fetchSeconds,
      int migrateReps,
      double migrateSeconds,
      int settleReps,
      double settleSeconds) {

    static Plan quick() {
      return new Plan("quick", 256 * MIB, 16 * MIB, 5, 10, 60, 30, 8, 5, 30, 5, 45, 24, 20);
    }

    static Plan full() {
      return new Plan("full", GIB, 64 * MIB, 10, 30, 30, 15, 20, 8, 120, 8, 180, 24, 45);
    }
  }

  private final Plan plan;
  private final Path socketA;
  private final Path socketB;
  /** The daemons' process ids (for their CPU time), or -1. */
  private final long pidA;
  private final long pidB;
  private final Map<String, String> settings;
  private final Map<String, Object> results = new LinkedHashMap<>();
  private final Map<String, Object> details = new LinkedHashMap<>();
  private final Map<String, Object> reps = new LinkedHashMap<>();
  private final Map<String, Object> heap = new LinkedHashMap<>();
  private final List<String> errors = new ArrayList<>();
  private final Map<String, Object> cluster = new LinkedHashMap<>();
  /** With --tls-ca: the CA of A's TLS port. */
  private final Path tlsCa;
  /** With --tls-cert and --tls-key: the harness's client certificate (mutual TLS). */
  private final Path tlsCert;
  private final Path tlsKey;
  /** This pair's name in the log when two pairs share the run ("plaintext", "tls"), else empty. */
  private final String label;

  /**
   * With two pairs in one run: taken around every transfer and every other heavy step (fair, so the
   * pairs take turns), so that only one pair works at a time and each one's reps alternate with the
   * other's: both see the same machine. One pair alone takes it uncontended.
   */
  private static final java.util.concurrent.locks.ReentrantLock TURN = new java.util.concurrent.locks.ReentrantLock(true);
  /** With two pairs: where both wait before each timed phase, so that their timed reps interleave. */
  private static java.util.concurrent.Phaser together;
  private String verified = "not checked";
  private final String loadavgStart = loadavg();
  private final List<Double> memcpyReps = new ArrayList<>();
  private long sourceCrc;

  private ClusterBenchmark(Plan plan, Pair p, String label) {
    this.plan = plan;
    this.socketA = p.a;
    this.socketB = p.b;
    this.pidA = p.pidA;
    this.pidB = p.pidB;
    this.settings = p.settings;
    this.tlsCa = p.tlsCa;
    this.tlsCert = p.tlsCert;
    this.tlsKey = p.tlsKey;
    this.label = label;
  }

  /** The command-line flags of one pair of daemons. */
  private static final class Pair {
    Path a;
    Path b;
    long pidA = -1;
    long pidB = -1;
    Path out = Path.of("benchmarks", "results", "cluster-latest.json");
    Path tlsCa;
    Path tlsCert;
    Path tlsKey;
    final Map<String, String> settings = new LinkedHashMap<>();
  }

  public static void main(String[] args) throws IOException {
    boolean quick = false;
    List<Pair> pairs = new ArrayList<>();
    Pair p = new Pair();
    pairs.add(p);
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--quick" -> quick = true;
        case "--and" -> {
          p = new Pair();
          pairs.add(p);
        }
        case "--socket-a" -> p.a = Path.of(value(args, ++i, arg));
        case "--socket-b" -> p.b = Path.of(value(args, ++i, arg));
        case "--pid-a" -> p.pidA = Long.parseLong(value(args, ++i, arg));
        case "--pid-b" -> p.pidB = Long.parseLong(value(args, ++i, arg));
        case "--out" -> p.out = Path.of(value(args, ++i, arg));
        case "--tls-ca" -> p.tlsCa = Path.of(value(args, ++i, arg));
        case "--tls-cert" -> p.tlsCert = Path.of(value(args, ++i, arg));
        case "--tls-key" -> p.tlsKey = Path.of(value(args, ++i, arg));
        case "--setting" -> {
          String kv = value(args, ++i, arg);
          int eq = kv.indexOf('=');
          if (eq <= 0) {
            usage("--setting takes KEY=VALUE, got " + kv);
          }
          p.settings.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        case "-h", "--help" -> usage(null);
        default -> usage("unknown argument " + arg);
      }
    }
    if (pairs.size() > 2) {
      usage("at most two pairs (one --and)");
    }
    for (Pair q : pairs) {
      if (q.a == null || q.b == null) {
        usage("--socket-a and --socket-b are required" + (pairs.size() > 1 ? " for each pair" : ""));
      }
    }
    if (pairs.size() > 1 && pairs.get(0).out.equals(pairs.get(1).out)) {
      usage("the two pairs need different --out files");
    }
    Plan plan = quick ? Plan.quick() : Plan.full();
    if (pairs.size() == 1) {
      System.exit(new ClusterBenchmark(plan, pairs.getFirst(), "").run(pairs.getFirst().out));
    }
    // Two pairs: each on a thread of its own, taking turns (TURN) and meeting before each timed phase.
    together = new java.util.concurrent.Phaser(2);
    int[] rc = new int[2];
    List<Thread> threads = new ArrayList<>();
    for (int k = 0; k < 2; k++) {
      Pair q = pairs.get(k);
      String label = q.settings.getOrDefault("transport", "pair" + (k + 1));
      int me = k;
      threads.add(Thread.ofPlatform().name(label).start(() -> {
        try {
          rc[me] = new ClusterBenchmark(plan, q, label).run(q.out);
        } catch (Throwable e) { // an Error too: the other pair must not wait for this one's result
          e.printStackTrace();
          rc[me] = 1;
        }
      }));
    }
    for (Thread t : threads) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        System.exit(130);
      }
    }
    System.exit(Math.max(rc[0], rc[1]));
  }

  /** Runs {@code body} while holding the turn (see {@link #TURN}). */
  private static void exclusive(Runnable body) {
    TURN.lock();
    try {
      body.run();
    } finally {
      TURN.unlock();
    }
  }

  /** Before a timed phase: waits for the other pair (if any) to reach it too. */
  private static void meet() {
    java.util.concurrent.Phaser t = together;
    if (t != null) {
      t.arriveAndAwaitAdvance();
    }
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      usage(flag + " needs a value");
    }
    return args[i];
  }

  private static void usage(String why) {
    if (why != null) {
      System.err.println("ClusterBenchmark: " + why);
    }
    System.err.println("usage: ClusterBenchmark --socket-a PATH --socket-b PATH [--pid-a PID --pid-b PID] [--quick] [--out FILE] [--tls-ca PEM [--tls-cert PEM --tls-key PEM]]"
        + " [--setting KEY=VALUE ...] [--and (the same flags for a second pair, measured in the same run, its reps"
        + " taking turns with the first's)]");
    System.exit(why == null ? 0 : 2);
  }

  private RpcClient rpcClient(String endpoint) {
    if (tlsCa == null) {
      return RpcClient.connect(endpoint);
    }
    RpcClient.Builder b = RpcClient.builder(endpoint).trust(tlsCa);
    if (tlsCert != null) {
      b.clientCertificate(tlsCert, tlsKey);
    }
    return b.build();
  }

  /** An object on A: its id (persisted), its blob's id and size. */
  private record Stored(ObjectId object, ObjectId blob, long size) {}

  // ---------------------------------------------------------------- run

  private int run(Path out) throws IOException {
    long started = System.nanoTime();
    Instant startedAt = Instant.now();
    long n = plan.objectBytes;
    log("mode %s, daemon A at %s, daemon B at %s, object %s", plan.mode, socketA, socketB, MemorySize.format(n));
    // With two pairs, this pair's heavy steps (allocating and freeing 2 GiB included) take turns
    // with the other's, and the other never waits at a meeting for this one once it has ended here.
    Arena arena = Arena.ofShared();
    // A migrate of 1 GiB waits for the whole copy: a generous request timeout.
    try (IpcClient a = IpcClient.connect(socketA, Duration.ofMinutes(5), "cluster-bench-a");
        IpcClient b = IpcClient.connect(socketB, Duration.ofMinutes(5), "cluster-bench-b")) {
      String endpointA = describeCluster(a, b);
      sampleHeap(a, b, "start");

      // The source of the puts and of memcpy, and the destination of memcpy and of every fetch.
      MemorySegment[] seg = new MemorySegment[2];
      exclusive(() -> {
        seg[0] = arena.allocate(n, 4096);
        seg[1] = arena.allocate(n, 4096);
        fillPattern(seg[0]);
        seg[1].fill((byte) 1); // pre-touch every page
        sourceCrc = crc(seg[0]);
      });
      MemorySegment src = seg[0];
      MemorySegment dst = seg[1];

      Samples memcpyBefore = new Samples(plan.memcpyReps);
      Samples memcpyAfter = new Samples(plan.memcpyReps);
      phase("memcpy", () -> memcpy(src, dst, memcpyBefore));

      List<Stored> stored = new ArrayList<>();
      phase("put", () -> {
        exclusive(() -> stored.add(putObject(a, src, plan.warmObjectBytes, "warm-up")));
        exclusive(() -> stored.add(putObject(a, src, n, "measured")));
      });
      sampleHeap(a, b, "put");
      if (stored.size() == 2) {
        Stored warm = stored.get(0);
        Stored big = stored.get(1);
        // Over TLS when A's port speaks it; the token is A's local one, read next to its socket.
        try (RpcClient rpc = rpcClient(endpointA)) {
          phase("fetch_warmup", () -> fetchWarmup(rpc, warm, big, dst));
          phase("fetch", () -> fetches(rpc, big, dst));
        }
        sampleHeap(a, b, "fetch");
        phase("migrate_warmup", () -> migrateWarmup(b, warm, big));
        phase("migrate", () -> migrates(a, b, big));
        sampleHeap(a, b, "migrate");
      }
      phase("memcpy_again", () -> memcpy(src, dst, memcpyAfter));
      memcpyResults(memcpyBefore, memcpyAfter);
      exclusive(() -> {
        for (Stored s : stored) {
          a.delete(List.of(s.object()), false, true);
        }
      });
      StoreStats endA = a.stats();
      StoreStats endB = b.stats();
      details.put("daemon_a_blobs_left", endA.blobCount());
      details.put("daemon_b_blobs_left", endB.blobCount());
    } catch (RuntimeException e) {
      errors.add("fatal: " + e);
      e.printStackTrace();
    } finally {
      exclusive(arena::close);
      java.util.concurrent.Phaser t = together;
      if (t != null) {
        t.arriveAndDeregister(); // the other pair no longer waits for this one
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;

    Map<String, Object> json = assemble(startedAt, seconds);
    TURN.lock(); // the two pairs' tables one after the other
    try {
      printTable(json);
      Measure.writeResults(out, json);
    } finally {
      TURN.unlock();
    }
    return errors.isEmpty() ? 0 : 1;
  }

  private void phase(String name, Runnable body) {
    Measure.phase(logPrefix(), name, body, errors, details);
  }

  /** Checks that A and B see each other in the metadata; returns A's gRPC endpoint. */
  private String describeCluster(IpcClient a, IpcClient b) {
    if (a.instanceId() == b.instanceId()) {
      throw new IllegalStateException("A and B have the same instance id " + a.instanceId() + ": not one cluster");
    }
    // Up to 20 s: a daemon whose etcd lease lapsed while it reserved its memory registers again
    // just after its socket appears.
    long deadline = deadline(20);
    List<InstanceInfo> seenByB;
    InstanceInfo infoA;
    InstanceInfo infoB;
    int polls = 0;
    while (true) {
      try {
        seenByB = b.instances();
      } catch (VineyardException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        seenByB = List.of();
      }
      infoA = null;
      infoB = null;
      for (InstanceInfo i : seenByB) {
        if (i.id() == a.instanceId()) {
          infoA = i;
        } else if (i.id() == b.instanceId()) {
          infoB = i;
        }
      }
      if ((infoA != null && infoB != null) || System.nanoTime() > deadline) {
        break;
      }
      polls++;
      sleep(100);
    }
    if (infoA == null || infoB == null) {
      throw new IllegalStateException("B does not see both daemons in the cluster metadata after 20 s: " + seenByB);
    }
    cluster.put("waited_for_registration_ms", polls * 100);
    if (infoA.rpcEndpoint().isEmpty()) {
      throw new IllegalStateException("daemon A serves no gRPC port");
    }
    cluster.put("instance_a", a.instanceId());
    cluster.put("instance_b", b.instanceId());
    cluster.put("rpc_endpoint_a", infoA.rpcEndpoint());
    cluster.put("rpc_endpoint_b", infoB.rpcEndpoint());
    cluster.put("capacity_a_bytes", a.stats().capacityBytes());
    cluster.put("capacity_b_bytes", b.stats().capacityBytes());
    cluster.put("instances_seen_by_b", seenByB.size());
    log("A is instance %d (gRPC %s), B is instance %d (gRPC %s)", a.instanceId(), infoA.rpcEndpoint(),
        b.instanceId(), infoB.rpcEndpoint());
    return infoA.rpcEndpoint();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private void sampleHeap(IpcClient a, IpcClient b, String after) {
    try {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("a", round(a.stats().heapUsedBytes() / (double) MIB, 1));
      m.put("b", round(b.stats().heapUsedBytes() / (double) MIB, 1));
      heap.put(after, m);
    } catch (RuntimeException e) {
      errors.add("stats after " + after + ": " + e);
    }
  }

  /** Every 8-byte word differs from its neighbours, so a shifted or misplaced chunk changes the CRC. */
  private static void fillPattern(MemorySegment seg) {
    long words = seg.byteSize() / 8;
    for (long k = 0; k < words; k++) {
      long x = k * 0x9E3779B97F4A7C15L;
      seg.set(ValueLayout.JAVA_LONG, k * 8, x ^ (x >>> 31));
    }
  }

  private static long crc(MemorySegment seg) {
    CRC32C c = new CRC32C();
    for (long off = 0; off < seg.byteSize(); ) {
      int len = (int) Math.min(256 * MIB, seg.byteSize() - off);
      c.update(seg.asSlice(off, len).asByteBuffer());
      off += len;
    }
    return c.getValue();
  }

  private static long crcOfBlob(IpcClient client, ObjectId blob) {
    try (Blob bl = client.getBlob(blob)) {
      return crc(bl.segment());
    }
  }

  // ---------------------------------------------------------------- CPU accounting

  /** CPU time (user + system) a process has used so far, in ms, from /proc/PID/stat; -1 if unknown. */
  private static long cpuMillis(long pid) {
    if (pid <= 0) {
      return -1;
    }
    try {
      // Not readString: /proc files report a size of 0.
      String stat = Files.readAllLines(Path.of("/proc", Long.toString(pid), "stat")).getFirst();
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10; // utime + stime, in 1/100 s
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** Busy CPU time of the whole machine so far, in ms, from /proc/stat (all but idle and iowait). */
  private static long machineBusyMillis() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
      long busy = 0;
      for (int i = 1; i < f.length && i <= 8; i++) {
        if (i != 4 && i != 5) {
          busy += Long.parseLong(f[i]);
        }
      }
      return busy * 10;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU used during the timed reps of one phase: by the process that sends the bytes (daemon A), the
   * one that receives them (this harness for a fetch, daemon B for a migrate), and the whole machine.
   */
  private static final class CpuMeter {
    private final long sender;
    private final long receiver;
    private long senderMs;
    private long receiverMs;
    private long machineMs;
    private long wallNanos;
    private long s0;
    private long r0;
    private long m0;
    private long t0;

    CpuMeter(long senderPid, long receiverPid) {
      this.sender = senderPid;
      this.receiver = receiverPid;
    }

    void start() {
      s0 = cpuMillis(sender);
      r0 = cpuMillis(receiver);
      m0 = machineBusyMillis();
      t0 = System.nanoTime();
    }

    void stop() {
      wallNanos += System.nanoTime() - t0;
      senderMs += s0 < 0 ? 0 : cpuMillis(sender) - s0;
      receiverMs += r0 < 0 ? 0 : cpuMillis(receiver) - r0;
      machineMs += m0 < 0 ? 0 : machineBusyMillis() - m0;
    }

    /** Into {@code details}, per GiB moved and as CPUs busy on average. */
    void report(Map<String, Object> details, String prefix, String senderName, String receiverName, long bytes) {
      if (wallNanos == 0 || bytes == 0) {
        return;
      }
      double perGib = GIB / (double) bytes;
      double wallMs = wallNanos / 1e6;
      if (s0 >= 0) {
        details.put(prefix + "cpu_ms_per_gib_" + senderName, Math.round(senderMs * perGib));
      }
      if (r0 >= 0) {
        details.put(prefix + "cpu_ms_per_gib_" + receiverName, Math.round(receiverMs * perGib));
      }
      if (m0 >= 0) {
        details.put(prefix + "machine_busy_cpus", round(machineMs / wallMs, 2));
        if (s0 >= 0 && r0 >= 0) {
          // Clamped at 0: the counters tick every 10 ms, so a quiet machine can come out slightly negative.
          details.put(prefix + "busy_cpus_outside_sender_and_receiver",
              round(Math.max(0, machineMs - senderMs - receiverMs) / wallMs, 2));
        }
      }
    }
  }

  // ---------------------------------------------------------------- memcpy baseline

  private void memcpy(MemorySegment src, MemorySegment dst, Samples s) {
    long n = dst.byteSize();
    exclusive(() -> MemorySegment.copy(src, 0, dst, 0, n)); // untimed warm-up (JIT, caches)
    long deadline = deadline(plan.memcpySeconds);
    while (!s.isFull() && (s.count() < 3 || System.nanoTime() < deadline)) {
      exclusive(() -> {
        long t0 = System.nanoTime();
        MemorySegment.copy(src, 0, dst, 0, n);
        long t = System.nanoTime() - t0;
        s.add(t);
        memcpyReps.add(round(gbps(n, t), 2)); // in the order taken (Samples sorts its values)
      });
    }
    if (dst.get(ValueLayout.JAVA_LONG, n - 8) != src.get(ValueLayout.JAVA_LONG, n - 8)) {
      throw new IllegalStateException("memcpy check failed");
    }
    log("memcpy %s: median %.2f GB/s, best %.2f GB/s (%d reps)",
        MemorySize.format(n), gbps(n, s.median()), gbps(n, s.min()), s.count());
  }

  /** The baseline: the median (and best) over the reps before and after the remote phases. */
  private void memcpyResults(Samples before, Samples after) {
    long n = plan.objectBytes;
    Samples all = new Samples(before.count() + after.count());
    before.forEach(all::add);
    after.forEach(all::add);
    if (all.count() == 0) {
      return;
    }
    results.put("memcpy_gbps", round(gbps(n, all.median()), 3));
    results.put("memcpy_best_gbps", round(gbps(n, all.min()), 3));
    details.put("memcpy_gbps_before", round(gbps(n, before.median()), 3));
    details.put("memcpy_gbps_after", round(gbps(n, after.median()), 3));
    details.put("memcpy_reps", all.count());
    reps.put("memcpy_gbps", memcpyReps);
  }

  // ---------------------------------------------------------------- put on A

  /** One blob of {@code size} bytes (from the source) and an object around it, on A, persisted. */
  private Stored putObject(IpcClient a, MemorySegment src, long size, String role) {
    long t0 = System.nanoTime();
    ObjectId blob;
    try (BlobWriter w = a.createBlob(size)) {
      MemorySegment.copy(src, 0, w.segment(), 0, size);
      blob = w.seal();
    }
    ObjectId object = a.putMeta(ObjectMeta.builder("bench::Bytes")
        .field("length", size)
        .field("role", role)
        .member("buffer", blob)
        .build());
    long t1 = System.nanoTime();
    a.persist(object);
    long t2 = System.nanoTime();
    String key = role.equals("measured") ? "" : "warm_";
    details.put("put_" + key + "object", object.toString());
    details.put("put_" + key + "gbps", round(gbps(size, t1 - t0), 3));
    details.put("persist_" + key + "ms", round((t2 - t1) / 1e6, 2));
    log("put %s on A: %s (blob %s), %.2f GB/s; persist %.1f ms", MemorySize.format(size), object, blob,
        gbps(size, t1 - t0), (t2 - t1) / 1e6);
    return new Stored(object, blob, size);
  }

  // ---------------------------------------------------------------- fetch over gRPC

  /**
   * Untimed: fetches of the small blob, so that both ends' gRPC paths are compiled, then one of the
   * measured blob (its figure goes to the details, as the first fetch).
   */
  private void fetchWarmup(RpcClient rpc, Stored warm, Stored big, MemorySegment dst) {
    MemorySegment small = dst.asSlice(0, warm.size());
    long deadline = deadline(plan.warmSeconds);
    int done = 0;
    long smallTotal = 0;
    while (done < plan.warmFetches && (done < 1 || System.nanoTime() < deadline)) {
      long[] took = new long[1];
      exclusive(() -> {
        long ts = System.nanoTime();
        rpc.fetchBlob(warm.blob(), small);
        took[0] = System.nanoTime() - ts;
      });
      smallTotal += took[0];
      done++;
    }
    double smallNanos = smallTotal / (double) done;
    long[] firstTook = new long[1];
    exclusive(() -> {
      long t1 = System.nanoTime();
      rpc.fetchBlob(big.blob(), dst);
      firstTook[0] = System.nanoTime() - t1;
    });
    long first = firstTook[0];
    settle("fetch", big.size(), pidA, ProcessHandle.current().pid(), () -> rpc.fetchBlob(big.blob(), dst));
    details.put("fetch_warmup_count", done);
    details.put("fetch_warmup_gbps_mean", round(gbps(warm.size(), smallNanos), 3));
    details.put("fetch_first_gbps", round(gbps(big.size(), first), 3));
    log("fetch warm-up: %d x %s (mean %.2f GB/s), then the first %s fetch at %.2f GB/s", done,
        MemorySize.format(warm.size()), gbps(warm.size(), smallNanos), MemorySize.format(big.size()), gbps(big.size(), first));
  }

  /**
   * Untimed: repeats {@code rep} (one transfer of the measured object) until one ran while the JIT
   * compilers of both ends were all but idle (at most {@link #SETTLED_JIT_SHARE} of the rep's time
   * between the two processes), at most {@code settleReps} times and {@code settleSeconds}. On two
   * vCPUs busy with the transfer the compilers get little CPU: over TLS both ends were still
   * compiling ten 1 GiB transfers after the small warm-up, and each rep was faster than the one
   * before, so a median over the next reps measured the warm-up (docs/performance.md).
   */
  private void settle(String what, long bytes, long pid1, long pid2, Runnable rep) {
    long deadline = deadline(plan.settleSeconds);
    int reps = 0;
    long jitMs = -1;
    double share = 1;
    List<String> seen = new ArrayList<>(); // each rep's GB/s and compiler ms: the warm-up, as it went
    while (reps < plan.settleReps && System.nanoTime() < deadline) {
      long[] took = new long[2];
      exclusive(() -> {
        long j0 = jitCpuMillis(pid1) + jitCpuMillis(pid2);
        long t0 = System.nanoTime();
        rep.run();
        took[0] = Math.max(1, (System.nanoTime() - t0) / 1_000_000);
        took[1] = jitCpuMillis(pid1) + jitCpuMillis(pid2) - j0;
      });
      long wallMs = took[0];
      jitMs = took[1];
      reps++;
      seen.add(String.format(Locale.ROOT, "%.2f GB/s, JIT %d ms", bytes / (wallMs * 1e6), jitMs));
      share = jitMs / (double) wallMs;
      if (share <= SETTLED_JIT_SHARE) {
        break;
      }
    }
    boolean settled = share <= SETTLED_JIT_SHARE;
    details.put(what + "_settle_reps", reps);
    details.put(what + "_settle_last_jit_ms", jitMs);
    details.put(what + "_settled", settled);
    details.put(what + "_settle_each_rep", seen);
    log("%s settling: %d more untimed reps of the measured object; in the last, the compilers of both ends used"
        + " %d ms (%s)", what, reps, jitMs, settled ? "settled" : "NOT settled within the bounds");
  }

  /** CPU ms so far of a process's JIT compiler threads (C1 and C2); 0 if unknown. */
  private static long jitCpuMillis(long pid) {
    long sum = 0;
    for (Map.Entry<String, Long> e : Measure.threadCpuMillis(pid).entrySet()) {
      if (e.getKey().startsWith("C1 CompilerThre") || e.getKey().startsWith("C2 CompilerThre")) {
        sum += e.getValue();
      }
    }
    return sum;
  }

  private void fetches(RpcClient rpc, Stored big, MemorySegment dst) {
    long n = big.size();
    Samples s = new Samples(plan.fetchReps);
    List<Double> list = new ArrayList<>();
    CpuMeter cpu = new CpuMeter(pidA, ProcessHandle.current().pid());
    meet();
    // After waiting for the other pair: one untimed fetch, so the first timed one does not start cold.
    exclusive(() -> rpc.fetchBlob(big.blob(), dst));
    long deadline = deadline(plan.fetchSeconds); // from here: the wait for the other pair does not count
    long jit0 = jitCpuMillis(pidA) + jitCpuMillis(ProcessHandle.current().pid());
    while (!s.isFull() && (s.count() < 2 || System.nanoTime() < deadline)) {
      exclusive(() -> {
        cpu.start();
        long t0 = System.nanoTime();
        long got = rpc.fetchBlob(big.blob(), dst);
        long t = System.nanoTime() - t0;
        cpu.stop();
        if (got != n) {
          throw new IllegalStateException("fetch returned " + got + " bytes, expected " + n);
        }
        s.add(t);
        list.add(round(gbps(n, t), 3));
        log("fetch %d: %.1f ms, %.2f GB/s", s.count(), t / 1e6, gbps(n, t));
      });
    }
    // One more fetch, untimed, into the target zeroed first (memcpy left the source's bytes in it).
    long[] crcOut = new long[1];
    exclusive(() -> {
      dst.fill((byte) 0);
      rpc.fetchBlob(big.blob(), dst);
      crcOut[0] = crc(dst);
    });
    long fetchedCrc = crcOut[0];
    details.put("fetch_verified", fetchedCrc == sourceCrc ? "a fetch into the zeroed target matches the source (CRC32C of all bytes)"
        : "MISMATCH: " + Long.toHexString(fetchedCrc) + " vs " + Long.toHexString(sourceCrc));
    if (fetchedCrc != sourceCrc) {
      errors.add("fetch: the fetched bytes differ from the source (CRC32C " + Long.toHexString(fetchedCrc) + " vs "
          + Long.toHexString(sourceCrc) + ")");
    }
    results.put("fetch_gbps", round(gbps(n, s.median()), 3));
    results.put("fetch_best_gbps", round(gbps(n, s.min()), 3));
    details.put("fetch_reps", s.count());
    details.put("fetch_ms_median", round(s.median() / 1e6, 1));
    cpu.report(details, "fetch_", "a", "harness", n * s.count());
    details.put("fetch_jit_ms_during_reps", jitCpuMillis(pidA) + jitCpuMillis(ProcessHandle.current().pid()) - jit0);
    reps.put("fetch_gbps", list);
  }

  // ---------------------------------------------------------------- migrate A -> B

  /** One migrate of {@code s} on B, timed; returns {nanos, local id}. */
  private static long[] timedMigrate(IpcClient b, Stored s) {
    long t0 = System.nanoTime();
    ObjectId local = b.migrate(s.object());
    long t = System.nanoTime() - t0;
    return new long[] {t, local.value()};
  }

  /** Deletes a replica on B, with its blob (deep), and checks that the blob went too. */
  private static void dropReplica(IpcClient b, ObjectId local) {
    List<ObjectId> deleted = b.delete(List.of(local), false, true);
    if (deleted.size() < 2) {
      throw new IllegalStateException("deleting replica " + local + " on B (deep) removed only " + deleted);
    }
  }

  /** Untimed: migrates of the small object (each deleted), then one of the measured object. */
  private void migrateWarmup(IpcClient b, Stored warm, Stored big) {
    long deadline = deadline(plan.warmSeconds);
    int done = 0;
    long nanos = 0;
    while (done < plan.warmMigrates && (done < 1 || System.nanoTime() < deadline)) {
      long[] m = new long[2];
      exclusive(() -> {
        long[] r = timedMigrate(b, warm);
        dropReplica(b, new ObjectId(r[1]));
        m[0] = r[0];
      });
      nanos += m[0];
      done++;
    }
    long[] first = new long[2];
    exclusive(() -> {
      long[] r = timedMigrate(b, big);
      dropReplica(b, new ObjectId(r[1]));
      first[0] = r[0];
    });
    settle("migrate", big.size(), pidA, pidB, () -> dropReplica(b, new ObjectId(timedMigrate(b, big)[1])));
    details.put("migrate_warmup_count", done);
    details.put("migrate_warmup_gbps_mean", round(gbps(warm.size() * (long) done, nanos), 3));
    details.put("migrate_first_gbps", round(gbps(big.size(), first[0]), 3));
    log("migrate warm-up: %d x %s (mean %.2f GB/s), then the first %s migrate at %.2f GB/s", done,
        MemorySize.format(warm.size()), gbps(warm.size() * (long) done, nanos), MemorySize.format(big.size()),
        gbps(big.size(), first[0]));
  }

  private void migrates(IpcClient a, IpcClient b, Stored big) {
    long n = big.size();
    Samples s = new Samples(plan.migrateReps);
    List<Double> list = new ArrayList<>();
    boolean[] checked = {false};
    CpuMeter cpu = new CpuMeter(pidA, pidB);
    meet();
    exclusive(() -> dropReplica(b, new ObjectId(timedMigrate(b, big)[1]))); // untimed, as for the fetches
    long deadline = deadline(plan.migrateSeconds);
    long jit0 = jitCpuMillis(pidA) + jitCpuMillis(pidB);
    while (!s.isFull() && (s.count() < 2 || System.nanoTime() < deadline)) {
      exclusive(() -> {
        StoreStats before = b.stats();
        if (before.usedBytes() + n > before.capacityBytes()) {
          throw new IllegalStateException("B has " + before.usedBytes() + " bytes in use: no room for a fresh replica");
        }
        cpu.start();
        long[] m = timedMigrate(b, big);
        cpu.stop();
        ObjectId local = new ObjectId(m[1]);
        StoreStats after = b.stats();
        // A real copy: a new object minted by B, and B's memory grew by the blob.
        if (local.equals(big.object()) || local.instanceId() != b.instanceId()) {
          throw new IllegalStateException("migrate returned " + local + ", not a replica minted by B");
        }
        if (after.usedBytes() - before.usedBytes() < n) {
          throw new IllegalStateException("B's memory grew by " + (after.usedBytes() - before.usedBytes())
              + " bytes during a migrate of " + n + ": nothing was copied");
        }
        s.add(m[0]);
        list.add(round(gbps(n, m[0]), 3));
        log("migrate %d: %.1f ms, %.2f GB/s", s.count(), m[0] / 1e6, gbps(n, m[0]));
        if (!checked[0]) {
          checked[0] = true;
          verifyReplica(a, b, big, local);
        }
        dropReplica(b, local);
      });
    }
    results.put("migrate_gbps", round(gbps(n, s.median()), 3));
    results.put("migrate_best_gbps", round(gbps(n, s.min()), 3));
    details.put("migrate_reps", s.count());
    details.put("migrate_ms_median", round(s.median() / 1e6, 1));
    cpu.report(details, "migrate_", "a", "b", n * s.count());
    details.put("migrate_jit_ms_during_reps", jitCpuMillis(pidA) + jitCpuMillis(pidB) - jit0);
    reps.put("migrate_gbps", list);
  }

  /** CRC32C of the replica's blob on B against the original on A (and the source). */
  private void verifyReplica(IpcClient a, IpcClient b, Stored big, ObjectId local) {
    ObjectMeta replica = b.getMeta(local);
    ObjectId replicaBlob = replica.member("buffer").id();
    if (replicaBlob.instanceId() != b.instanceId() || replica.member("buffer").nbytes() != big.size()) {
      throw new IllegalStateException("replica " + local + " has blob " + replicaBlob + " of "
          + replica.member("buffer").nbytes() + " bytes");
    }
    long onB = crcOfBlob(b, replicaBlob);
    long onA = crcOfBlob(a, big.blob());
    if (onA == onB && onA == sourceCrc) {
      verified = "migrated blob " + replicaBlob + " on B matches " + big.blob() + " on A (CRC32C of all "
          + MemorySize.format(big.size()) + ": " + Long.toHexString(onB) + ")";
    } else {
      verified = "MISMATCH: B " + Long.toHexString(onB) + ", A " + Long.toHexString(onA) + ", source "
          + Long.toHexString(sourceCrc);
      errors.add("migrate: " + verified);
    }
    log("verify: %s", verified);
  }

  // ---------------------------------------------------------------- report

  private Map<String, Object> assemble(Instant startedAt, double seconds) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("timestamp", startedAt.truncatedTo(ChronoUnit.SECONDS).toString());
    json.put("mode", plan.mode);
    json.put("object_bytes", plan.objectBytes);
    json.put("memcpy_gbps", results.get("memcpy_gbps"));
    json.putAll(results);
    Double memcpy = num(results.get("memcpy_gbps"));
    for (String k : List.of("fetch", "migrate")) {
      Double v = num(results.get(k + "_gbps"));
      json.put(k + "_vs_memcpy", memcpy == null || v == null ? null : round(v / memcpy, 4));
    }
    json.put("verified", verified);
    json.put("reps", reps);
    Map<String, Object> targets = new LinkedHashMap<>();
    targets.put("fetch_gbps >= 1", met(num(json.get("fetch_gbps"))));
    targets.put("migrate_gbps >= 1", met(num(json.get("migrate_gbps"))));
    json.put("targets", targets);

    Map<String, Object> daemons = new LinkedHashMap<>(settings);
    daemons.putAll(cluster);
    daemons.put("socket_a", socketA.toString());
    daemons.put("socket_b", socketB.toString());
    daemons.put("pid_a", pidA);
    daemons.put("pid_b", pidB);
    json.put("daemons", daemons);
    json.put("daemon_heap_mib_after_phase", heap);

    Map<String, Object> host = new LinkedHashMap<>();
    host.put("cpus", Runtime.getRuntime().availableProcessors());
    host.put("java_version", System.getProperty("java.vm.version"));
    host.put("java_vm", System.getProperty("java.vm.name"));
    host.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
    host.put("loadavg_start", loadavgStart);
    host.put("loadavg_end", loadavg());
    json.put("host", host);
    json.put("details", details);
    json.put("seconds", round(seconds, 1));
    Map<String, Object> errs = new LinkedHashMap<>();
    for (int i = 0; i < errors.size(); i++) {
      errs.put(Integer.toString(i + 1), errors.get(i));
    }
    json.put("errors", errs);
    return json;
  }

  /** The first three fields of /proc/loadavg (1, 5 and 15 minutes). */
  private static String loadavg() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/loadavg")).getFirst().split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static String met(Double gbps) {
    if (gbps == null || gbps.isNaN()) {
      return "n/a";
    }
    return gbps >= TARGET_GBPS ? "met" : "NOT met";
  }

  @SuppressWarnings("unchecked")
  private void printTable(Map<String, Object> json) {
    Map<String, Object> targets = (Map<String, Object>) json.get("targets");
    String size = MemorySize.format(plan.objectBytes);
    StringBuilder sb = new StringBuilder();
    sb.append('\n').append(String.format(Locale.ROOT, "Vineyard cluster benchmark, %s mode, %s, object %s%n",
        plan.mode, json.get("timestamp"), size));
    sb.append(String.format(Locale.ROOT, "daemons: %s%n", json.get("daemons")));
    sb.append(String.format(Locale.ROOT, "%-34s %10s %10s %9s  %-10s %s%n", "metric", "median", "best", "vs memcpy",
        "target", "status"));
    sb.append("-".repeat(92)).append('\n');
    sb.append(String.format(Locale.ROOT, "%-34s %10s %10s %9s  %-10s%n", "memcpy (in process), GB/s",
        fmt(json.get("memcpy_gbps")), fmt(json.get("memcpy_best_gbps")), "1", "baseline"));
    sb.append(String.format(Locale.ROOT, "%-34s %10s %10s %9s  %-10s %s%n", "RpcClient(A).fetchBlob, GB/s",
        fmt(json.get("fetch_gbps")), fmt(json.get("fetch_best_gbps")), ratio(json.get("fetch_vs_memcpy")), ">= 1 GB/s",
        targets.get("fetch_gbps >= 1")));
    sb.append(String.format(Locale.ROOT, "%-34s %10s %10s %9s  %-10s %s%n", "IpcClient(B).migrate, GB/s",
        fmt(json.get("migrate_gbps")), fmt(json.get("migrate_best_gbps")), ratio(json.get("migrate_vs_memcpy")),
        ">= 1 GB/s", targets.get("migrate_gbps >= 1")));
    sb.append("-".repeat(92)).append('\n');
    for (Map.Entry<String, Object> e : reps.entrySet()) {
      sb.append(String.format(Locale.ROOT, "each rep, %-8s GB/s: %s%n", e.getKey().replace("_gbps", ""), e.getValue()));
    }
    sb.append(String.format(Locale.ROOT, "first (after warm-up) fetch %s GB/s, migrate %s GB/s; memcpy before %s, after %s GB/s%n",
        fmt(details.get("fetch_first_gbps")), fmt(details.get("migrate_first_gbps")),
        fmt(details.get("memcpy_gbps_before")), fmt(details.get("memcpy_gbps_after"))));
    sb.append(String.format(Locale.ROOT, "CPU ms per GiB moved: fetch A %s, harness %s; migrate A %s, B %s. Machine busy (CPUs): "
            + "fetch %s, migrate %s, of which others %s / %s. Load average %s -> %s%n",
        details.get("fetch_cpu_ms_per_gib_a"), details.get("fetch_cpu_ms_per_gib_harness"),
        details.get("migrate_cpu_ms_per_gib_a"), details.get("migrate_cpu_ms_per_gib_b"),
        details.get("fetch_machine_busy_cpus"), details.get("migrate_machine_busy_cpus"),
        details.get("fetch_busy_cpus_outside_sender_and_receiver"), details.get("migrate_busy_cpus_outside_sender_and_receiver"),
        loadavgStart, ((Map<String, Object>) json.get("host")).get("loadavg_end")));
    sb.append(String.format(Locale.ROOT, "settling reps (JIT of both ends at most %.0f%% of a rep): fetch %s (settled: %s),"
            + " migrate %s (settled: %s); JIT ms during the timed reps: fetch %s, migrate %s%n",
        SETTLED_JIT_SHARE * 100, details.get("fetch_settle_reps"), details.get("fetch_settled"),
        details.get("migrate_settle_reps"), details.get("migrate_settled"),
        details.get("fetch_jit_ms_during_reps"), details.get("migrate_jit_ms_during_reps")));
    sb.append("verified: ").append(json.get("verified")).append('\n');
    sb.append("fetch verified: ").append(details.getOrDefault("fetch_verified", "not checked")).append('\n');
    sb.append("daemon heap after each phase (MiB): ").append(heap).append('\n');
    if (!errors.isEmpty()) {
      sb.append("ERRORS:\n");
      errors.forEach(e -> sb.append("  ").append(e).append('\n'));
    }
    System.out.print(sb);
  }

  private static String ratio(Object r) {
    Double d = num(r);
    return d == null ? "n/a" : String.format(Locale.ROOT, "%.3f", d);
  }

  /** "cluster-bench", and the pair's name when two pairs share the run (each on a thread named so). */
  private static String logPrefix() {
    return together == null ? "cluster-bench" : "cluster-bench " + Thread.currentThread().getName();
  }

  private static void log(String fmt, Object... args) {
    Measure.log(logPrefix(), fmt, args);
  }
}
