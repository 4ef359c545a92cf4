package io.vineyard.bench;

import static io.vineyard.bench.Measure.round;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.client.TrimResult;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The mixed load of issue 19 as a repeatable benchmark: N connections, each on its own thread,
 * run a fixed rotation of operations (create + write + seal of 4 KiB blobs and, one in 16, of
 * 1 MiB; get + read + close; put and get of metadata; names; a listing; stats; deletes that keep
 * each connection's working set bounded), timing every operation. Two phases, 8 and 48
 * connections, then everything is deleted, the daemon trimmed, and its resident set compared with
 * the one it had after a warm-up phase, emptied and trimmed. Every loop is bounded in count and time. Prints a table and writes
 * {@code benchmarks/results/load-latest.json}.
 */
public final class LoadBenchmark {

  private static final String P = "load";
  private static final long MIB = 1 << 20;
  /** What each connection keeps at most before it deletes its oldest. */
  private static final int WORKING_SET = 48;
  private static final int MAX_OPS_PER_THREAD = 240_000;
  /** Timings kept per operation kind and connection (a connection runs 9 kinds in a rotation of 12). */
  private static final int SAMPLES_PER_OP = 40_000;
  private static final String[] OPS = {"create_seal", "get", "put_meta", "get_meta", "put_name", "get_name", "list",
      "stats", "delete"};

  private final Path socket;
  private final long daemonPid;
  private final double seconds;
  private final Path out;
  private final Map<String, Object> settings = new LinkedHashMap<>();
  private final List<String> errors = new ArrayList<>();
  private final Map<String, Object> details = new LinkedHashMap<>();

  private LoadBenchmark(Path socket, long daemonPid, double seconds, Path out) {
    this.socket = socket;
    this.daemonPid = daemonPid;
    this.seconds = seconds;
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    Path socket = null;
    long pid = -1;
    boolean quick = false;
    Path out = Path.of("benchmarks/results/load-latest.json");
    Map<String, Object> settings = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--socket" -> socket = Path.of(args[++i]);
        case "--daemon-pid" -> pid = Long.parseLong(args[++i]);
        case "--quick" -> quick = true;
        case "--out" -> out = Path.of(args[++i]);
        case "--setting" -> {
          String[] kv = args[++i].split("=", 2);
          settings.put(kv[0], kv.length > 1 ? kv[1] : "");
        }
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (socket == null) {
      throw new IllegalArgumentException("--socket is required");
    }
    LoadBenchmark b = new LoadBenchmark(socket, pid, quick ? 5 : 12, out);
    b.settings.putAll(settings);
    System.exit(b.run(quick) ? 0 : 1);
  }

  /** The timings of one operation kind over all connections of a phase. */
  private static final class OpStats {
    final Samples samples;
    long worst;
    /** When the worst one ended (epoch ms), to find it in GC and other logs. */
    long worstAt;

    OpStats(int capacity) {
      samples = new Samples(capacity);
    }
  }

  /** One connection's loop. */
  private final class Worker implements Runnable {
    final int index;
    long deadline;
    final CountDownLatch start;
    final Map<String, OpStats> stats = new LinkedHashMap<>();
    final ArrayDeque<ObjectId> blobs = new ArrayDeque<>();
    final ArrayDeque<ObjectId> objects = new ArrayDeque<>();
    final String prefix;
    final byte[] small = new byte[4096];
    long ops;
    Throwable failure;

    Worker(int index, CountDownLatch start, String phase) {
      this.index = index;
      this.start = start;
      this.prefix = "load-" + phase + "-" + index + "-";
      for (String op : OPS) {
        stats.put(op, new OpStats(SAMPLES_PER_OP));
      }
    }

    private void time(String op, long t0) {
      long dt = System.nanoTime() - t0;
      OpStats s = stats.get(op);
      s.samples.add(dt);
      if (dt > s.worst) {
        s.worst = dt;
        s.worstAt = System.currentTimeMillis();
      }
    }

    @Override
    public void run() {
      try (IpcClient c = IpcClient.builder().socket(socket).clientName("load-" + index).connect()) {
        start.countDown();
        start.await();
        long i = 0;
        while (System.nanoTime() < deadline && ops < MAX_OPS_PER_THREAD) {
          step(c, i++);
        }
        cleanUp(c);
      } catch (Throwable t) {
        failure = t;
      }
    }

    private void step(IpcClient c, long i) {
      int kind = (int) (i % 12);
      long t0 = System.nanoTime();
      switch (kind) {
        case 0, 4, 8 -> {
          long size = i % 16 == 0 ? MIB : small.length;
          try (BlobWriter w = c.createBlob(size)) {
            w.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) i);
            w.segment().set(ValueLayout.JAVA_BYTE, size - 1, (byte) i);
            blobs.addLast(w.seal());
          }
          time("create_seal", t0);
        }
        case 1, 5, 9 -> {
          if (!blobs.isEmpty()) {
            try (Blob b = c.getBlob(blobs.peekLast())) {
              b.segment().get(ValueLayout.JAVA_BYTE, b.size() - 1);
            }
            time("get", t0);
          }
        }
        case 2 -> {
          if (!blobs.isEmpty()) {
            objects.addLast(c.putMeta(ObjectMeta.builder("load::Item").field("i", i).member("buffer", blobs.peekLast()).build()));
            time("put_meta", t0);
          }
        }
        case 3 -> {
          if (!objects.isEmpty()) {
            c.getMeta(objects.peekLast());
            time("get_meta", t0);
          }
        }
        case 6 -> {
          if (!objects.isEmpty()) {
            c.putName(prefix + (i % 8), objects.peekLast());
            time("put_name", t0);
            long t1 = System.nanoTime();
            c.getName(prefix + (i % 8));
            time("get_name", t1);
          }
        }
        case 7 -> {
          c.listObjects("load::*", 100);
          time("list", t0);
        }
        case 10 -> {
          c.stats();
          time("stats", t0);
        }
        default -> {
          if (objects.size() > WORKING_SET / 4 || blobs.size() > WORKING_SET) {
            List<ObjectId> drop = new ArrayList<>();
            while (objects.size() > WORKING_SET / 8) {
              drop.add(objects.pollFirst());
            }
            c.delete(drop, true, false);
            List<ObjectId> oldBlobs = new ArrayList<>();
            while (blobs.size() > WORKING_SET / 2) {
              oldBlobs.add(blobs.pollFirst());
            }
            c.delete(oldBlobs, true, false);
            time("delete", t0);
          }
        }
      }
      ops++;
    }

    private void cleanUp(IpcClient c) {
      List<ObjectId> all = new ArrayList<>(objects);
      all.addAll(blobs);
      if (!all.isEmpty()) {
        c.delete(all, true, false);
      }
      objects.clear();
      blobs.clear();
    }
  }

  /** Runs {@code connections} workers for {@code secs}; returns the per-operation results. */
  private Map<String, Object> phase(String name, int connections, double secs) throws InterruptedException {
    long cpuDaemon0 = Measure.cpuMillis(daemonPid);
    long cpuSelf0 = Measure.cpuMillis(ProcessHandle.current().pid());
    long busy0 = Measure.machineBusyMillis();
    CountDownLatch start = new CountDownLatch(connections);
    List<Worker> workers = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      workers.add(new Worker(i, start, name));
    }
    // The workers' sample arrays are made, and the harness's garbage collected, before anything is
    // timed: a collection of the harness during the phase would count against the daemon.
    System.gc();
    long deadline = Measure.deadline(secs + 2); // connecting counts against the bound too
    for (Worker w : workers) {
      w.deadline = deadline;
      threads.add(Thread.ofPlatform().name("load-" + name + "-" + w.index).start(w));
    }
    long t0 = System.nanoTime();
    for (Thread t : threads) {
      t.join(Math.max(1, (long) ((secs + 60) * 1000)));
    }
    double wall = (System.nanoTime() - t0) / 1e9;
    Map<String, Object> r = new LinkedHashMap<>();
    long total = 0;
    Map<String, Object> perOp = new LinkedHashMap<>();
    long worst = 0;
    long worstAt = 0;
    String worstOp = "";
    for (String op : OPS) {
      int n = 0;
      for (Worker w : workers) {
        n += w.stats.get(op).samples.count();
      }
      Samples all = new Samples(Math.max(1, n));
      long opWorst = 0;
      long opWorstAt = 0;
      for (Worker w : workers) {
        w.stats.get(op).samples.forEach(all::add);
        if (w.stats.get(op).worst > opWorst) {
          opWorst = w.stats.get(op).worst;
          opWorstAt = w.stats.get(op).worstAt;
        }
      }
      total += n;
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("count", n);
      o.put("ops_per_s", round(n / wall, 0));
      o.put("p50_ms", round(all.median() / 1e6, 3));
      o.put("p99_ms", round(all.percentile(99) / 1e6, 3));
      o.put("max_ms", round(opWorst / 1e6, 3));
      o.put("max_at", java.time.Instant.ofEpochMilli(opWorstAt).toString());
      perOp.put(op, o);
      if (opWorst > worst) {
        worst = opWorst;
        worstOp = op;
        worstAt = opWorstAt;
      }
    }
    for (Worker w : workers) {
      if (w.failure != null) {
        errors.add(name + ": connection " + w.index + ": " + w.failure);
      }
    }
    long busy = Measure.machineBusyMillis() - busy0;
    long daemonCpu = Measure.cpuMillis(daemonPid) - cpuDaemon0;
    long selfCpu = Measure.cpuMillis(ProcessHandle.current().pid()) - cpuSelf0;
    r.put("connections", connections);
    r.put("seconds", round(wall, 2));
    r.put("ops", total);
    r.put("ops_per_s", round(total / wall, 0));
    r.put("max_ms", round(worst / 1e6, 3));
    r.put("max_op", worstOp);
    r.put("max_at", java.time.Instant.ofEpochMilli(worstAt).toString());
    r.put("per_op", perOp);
    r.put("cpus_daemon", round(daemonCpu / 1000.0 / wall, 2));
    r.put("cpus_harness", round(selfCpu / 1000.0 / wall, 2));
    r.put("cpus_other_processes", round(Math.max(0, busy - daemonCpu - selfCpu) / 1000.0 / wall, 2));
    return r;
  }

  private Map<String, Long> rss() {
    Map<String, Long> m = new LinkedHashMap<>();
    if (daemonPid <= 0) {
      return m;
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(daemonPid), "status"))) {
        for (String key : new String[] {"VmRSS", "RssAnon", "RssFile", "RssShmem"}) {
          if (line.startsWith(key + ":")) {
            m.put(key, Long.parseLong(line.substring(key.length() + 1).trim().split("\\s+")[0]) * 1024);
          }
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      errors.add("cannot read the daemon's /proc status: " + e);
    }
    return m;
  }

  /** The last trim {@link #trimmedRss} sent, and when (nanoTime; 0 before the first). */
  private TrimResult lastTrim;
  private long lastTrimNanos;

  /**
   * Trims the daemon and reads its resident set half a second later. The daemon runs the full
   * collection a trim asks for at most once every 10 s, so a second trim waits until that long has
   * passed since the first.
   */
  private Map<String, Long> trimmedRss() throws Exception {
    long wait = lastTrimNanos == 0 ? 0 : lastTrimNanos + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(10_500)
        - System.nanoTime();
    if (wait > 0) {
      java.util.concurrent.TimeUnit.NANOSECONDS.sleep(wait);
    }
    try (IpcClient c = IpcClient.connect(socket)) {
      lastTrim = c.trim();
    }
    lastTrimNanos = System.nanoTime();
    Thread.sleep(500);
    return rss();
  }

  private static Map<String, Object> mib(Map<String, Long> m) {
    Map<String, Object> o = new LinkedHashMap<>();
    m.forEach((k, v) -> o.put(k + "_mib", round(v / (double) MIB, 1)));
    return o;
  }

  private boolean run(boolean quick) throws Exception {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("timestamp", java.time.Instant.now().toString());
    json.put("mode", quick ? "quick" : "full");
    String loadStart = loadavg();
    Map<String, Long> rssFresh = rss();
    StoreStats base;
    try (IpcClient c = IpcClient.connect(socket)) {
      base = c.stats();
    }
    Map<String, Object> warm = phase("warmup", 8, quick ? 3 : 6);
    details.put("warmup_ops", warm.get("ops"));
    details.put("warmup_max_ms", warm.get("max_ms"));
    // The resident set to come back to is the warmed daemon's, emptied and trimmed: a fresh JVM has
    // compiled and loaded nothing yet, and the code cache and metaspace the first minutes of any
    // load add (about 16 MiB here, by -XX:NativeMemoryTracking) stay for the life of the process.
    Map<String, Long> rssStart = trimmedRss();
    Map<String, Object> p8 = phase("c8", 8, seconds);
    Map<String, Object> p48 = phase("c48", 48, seconds);
    for (String e : errors) {
      Measure.log(P, "error: %s", e);
    }
    Map<String, Long> rssAfterLoad = rss();
    Map<String, Long> rssAfterTrim = trimmedRss();
    StoreStats end;
    try (IpcClient c = IpcClient.connect(socket)) {
      end = c.stats();
    }
    details.put("trim_released_mib", round(lastTrim.releasedBytes() / (double) MIB, 1));
    details.put("daemon_heap_mib_end", round(end.heapUsedBytes() / (double) MIB, 1));
    details.put("daemon_direct_mib_start", round(base.directMemoryBytes() / (double) MIB, 1));
    details.put("daemon_direct_mib_end", round(end.directMemoryBytes() / (double) MIB, 1));
    if (end.blobCount() != base.blobCount() || end.pinnedBlobCount() != 0 || end.usedBytes() != base.usedBytes()) {
      errors.add("the daemon is not back to where it started: " + end);
    }
    json.put("phase_8", p8);
    json.put("phase_48", p48);
    Map<String, Object> rssJson = new LinkedHashMap<>();
    rssJson.put("fresh", mib(rssFresh));
    rssJson.put("start", mib(rssStart));
    rssJson.put("after_load", mib(rssAfterLoad));
    rssJson.put("after_trim", mib(rssAfterTrim));
    json.put("daemon_rss", rssJson);

    // Targets.
    Map<String, Object> targets = new LinkedHashMap<>();
    double worstRatio = 0;
    String worstRatioOp = "";
    for (String op : OPS) {
      double a = (Double) ((Map<?, ?>) ((Map<?, ?>) p8.get("per_op")).get(op)).get("p99_ms");
      double b = (Double) ((Map<?, ?>) ((Map<?, ?>) p48.get("per_op")).get(op)).get("p99_ms");
      double ratio = b / a;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worstRatioOp = op;
      }
    }
    double maxMs = Math.max((Double) p8.get("max_ms"), (Double) p48.get("max_ms"));
    long rss0 = rssStart.getOrDefault("VmRSS", 0L);
    long rss2 = rssAfterTrim.getOrDefault("VmRSS", 0L);
    double rssRatio = rss0 == 0 ? Double.NaN : rss2 / (double) rss0;
    targets.put("p99_48_vs_8_worst_op", worstRatioOp);
    targets.put("p99_48_vs_8_worst_ratio", round(worstRatio, 2));
    targets.put("p99_48_vs_8_met", worstRatio <= 10);
    targets.put("max_op_ms", round(maxMs, 1));
    targets.put("no_op_over_100ms_met", maxMs <= 100);
    targets.put("rss_after_trim_vs_start", round(rssRatio, 2));
    targets.put("rss_back_within_20pct_met", rssRatio <= 1.2);
    json.put("targets", targets);
    Map<String, Object> host = new LinkedHashMap<>();
    host.put("cpus", Runtime.getRuntime().availableProcessors());
    host.put("loadavg_start", loadStart);
    host.put("loadavg_end", loadavg());
    json.put("host", host);
    json.put("settings", settings);
    json.put("details", details);
    json.put("errors", errors);
    Measure.writeResults(out, json);

    System.out.println();
    System.out.printf(Locale.ROOT, "%-12s %12s %10s %10s %10s | %12s %10s %10s %10s%n", "operation", "8: ops/s", "p50 ms",
        "p99 ms", "max ms", "48: ops/s", "p50 ms", "p99 ms", "max ms");
    for (String op : OPS) {
      Map<?, ?> a = (Map<?, ?>) ((Map<?, ?>) p8.get("per_op")).get(op);
      Map<?, ?> b = (Map<?, ?>) ((Map<?, ?>) p48.get("per_op")).get(op);
      System.out.printf(Locale.ROOT, "%-12s %12s %10s %10s %10s | %12s %10s %10s %10s%n", op, Measure.fmt(a.get("ops_per_s")),
          a.get("p50_ms"), a.get("p99_ms"), a.get("max_ms"), Measure.fmt(b.get("ops_per_s")), b.get("p50_ms"),
          b.get("p99_ms"), b.get("max_ms"));
    }
    System.out.printf(Locale.ROOT, "all ops/s: %s (8 connections), %s (48); CPUs daemon/harness/others: %s/%s/%s, %s/%s/%s%n",
        Measure.fmt(p8.get("ops_per_s")), Measure.fmt(p48.get("ops_per_s")), p8.get("cpus_daemon"), p8.get("cpus_harness"),
        p8.get("cpus_other_processes"), p48.get("cpus_daemon"), p48.get("cpus_harness"), p48.get("cpus_other_processes"));
    System.out.printf(Locale.ROOT, "daemon RSS: %s MiB fresh, %s warmed up, emptied and trimmed (the start), %s after the load,"
        + " %s after deleting everything and a trim%n", round(rssFresh.getOrDefault("VmRSS", 0L) / (double) MIB, 1),
        round(rss0 / (double) MIB, 1), round(rssAfterLoad.getOrDefault("VmRSS", 0L) / (double) MIB, 1),
        round(rss2 / (double) MIB, 1));
    System.out.printf(Locale.ROOT, "targets: p99 at 48 <= 10x p99 at 8: %s (worst %s: %.2fx); no op over 100 ms: %s (max %.1f ms, %s);"
        + " RSS within 20%% of start after a trim: %s (%.2fx)%n", yes(worstRatio <= 10), worstRatioOp, worstRatio,
        yes(maxMs <= 100), maxMs, p48.get("max_ms").equals(maxMs) ? p48.get("max_op") : p8.get("max_op"), yes(rssRatio <= 1.2),
        rssRatio);
    System.out.printf(Locale.ROOT, "load average: %s at start, %s at the end%n", loadStart, loadavg());
    if (!errors.isEmpty()) {
      errors.forEach(e -> System.out.println("error: " + e));
    }
    return errors.isEmpty();
  }

  private static String yes(boolean met) {
    return met ? "met" : "NOT met";
  }

  private static String loadavg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (java.io.IOException | RuntimeException e) {
      return "";
    }
  }
}
