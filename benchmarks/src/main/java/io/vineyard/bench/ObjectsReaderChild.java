package io.vineyard.bench;

import static io.vineyard.bench.ObjectsBenchmark.LARGE;
import static io.vineyard.bench.ObjectsBenchmark.SMALL;
import static io.vineyard.bench.ObjectsBenchmark.lastRowMatches;

import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.DataFrame;
import io.vineyard.objects.Table;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.util.TransferPair;

/**
 * The reader process of the objects benchmark: connects to the daemon and, for the two tables it is
 * given, times {@code Table.open} (every batch as a {@code VectorSchemaRoot} over shared memory) +
 * reading the last row of the last batch (one value of every column, checked) + {@code close()}.
 * In the same process it takes the baselines: {@code MemorySegment.copy} of the large table's bytes
 * between two pre-touched off-heap segments, and reading each table back from its Arrow IPC file with
 * {@code ArrowFileReader}, every batch kept as a {@code VectorSchemaRoot} of its own until the last
 * row is read, as an open table keeps them. Prints its figures as one flat JSON line on stdout
 * (per-rep figures as {@code "rep:NAME#i"}).
 *
 * <p>Usage: {@code ObjectsReaderChild --socket PATH --table small=ID --table large=ID --file
 * small=PATH --file large=PATH --memcpy-bytes N [--quick]}. The bounds come from {@link
 * ObjectsBenchmark.Plan}.
 */
public final class ObjectsReaderChild {

  private ObjectsReaderChild() {}

  private final Map<String, Object> out = new LinkedHashMap<>();
  private long checks;
  private long checkFailures;

  public static void main(String[] args) {
    Path socket = null;
    boolean quick = false;
    Map<String, ObjectId> tables = new LinkedHashMap<>();
    Map<String, Path> files = new LinkedHashMap<>();
    long memcpyBytes = -1;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--quick" -> quick = true;
        case "--socket" -> socket = Path.of(value(args, ++i, a));
        case "--table" -> {
          String[] kv = labelled(value(args, ++i, a), a);
          tables.put(kv[0], ObjectId.parse(kv[1]));
        }
        case "--file" -> {
          String[] kv = labelled(value(args, ++i, a), a);
          files.put(kv[0], Path.of(kv[1]));
        }
        case "--memcpy-bytes" -> memcpyBytes = Long.parseLong(value(args, ++i, a));
        default -> usage("unknown argument " + a);
      }
    }
    List<String> labels = List.of(SMALL, LARGE);
    if (socket == null || !tables.keySet().containsAll(labels) || !files.keySet().containsAll(labels) || memcpyBytes <= 0) {
      usage("--socket, --table and --file for both small and large, and --memcpy-bytes are required");
    }
    ObjectsReaderChild child = new ObjectsReaderChild();
    child.run(ObjectsBenchmark.Plan.of(quick), socket, tables, files, memcpyBytes);
    System.out.println(Json.writeLine(child.out));
    System.out.flush();
  }

  private void run(ObjectsBenchmark.Plan plan, Path socket, Map<String, ObjectId> tables, Map<String, Path> files, long memcpyBytes) {
    out.put("child_pid", ProcessHandle.current().pid());
    try (IpcClient client = IpcClient.connect(socket, Duration.ofMinutes(2), "objects-bench-reader");
        BufferAllocator allocator = new RootAllocator()) {
      ObjectId small = tables.get(SMALL);
      ObjectId large = tables.get(LARGE);

      // The first opens, untimed in the results: the small one maps the daemon's memory into this
      // process (once for the client's life), and each touches its pages for the first time.
      for (String label : List.of(SMALL, LARGE)) {
        long t0 = System.nanoTime();
        try (Table t = Table.open(client, tables.get(label), allocator)) {
          out.put("rows_" + label, t.rowCount());
          out.put("batches_" + label, t.batches().size());
          check(lastRowMatches(t.batches().getLast().root(), t.rowCount() - 1));
        }
        out.put("first_open_ms_" + label, (System.nanoTime() - t0) / 1e6);
      }

      // Untimed warm-up of every path, here and in the daemon: both opens and a read of the small
      // file, in turns. Mostly bounded by time: on a small VM the JIT compilers of both JVMs are
      // still busy after a few hundred rounds, and take CPU from the timed loop.
      long w0 = System.nanoTime();
      long warmDeadline = Measure.deadline(plan.warmupSeconds());
      int rounds = 0;
      while (rounds < plan.warmupRounds() && System.nanoTime() < warmDeadline) {
        openOnce(client, small, allocator);
        openOnce(client, large, allocator);
        readFile(files.get(SMALL), allocator);
        rounds++;
      }
      out.put("warmup_rounds", rounds);
      out.put("warmup_seconds", (System.nanoTime() - w0) / 1e9);
      log("warm-up: %d rounds in %.1f s", rounds, (System.nanoTime() - w0) / 1e9);

      opens(plan, client, small, large, allocator);
      memcpy(plan, memcpyBytes);
      fileReads(plan, files, allocator);

      out.put("checks", checks);
      out.put("check_failures", checkFailures);
      out.put("allocator_bytes_left", allocator.getAllocatedMemory());
      out.put("allocator_peak_bytes", allocator.getPeakMemoryAllocation());
    }
  }

  // ---------------------------------------------------------------- Table.open

  /** One open + read + close; returns {open, read, close} in nanoseconds. */
  private long[] openOnce(IpcClient client, ObjectId id, BufferAllocator allocator) {
    long t0 = System.nanoTime();
    Table t = Table.open(client, id, allocator);
    long t1;
    long t2;
    try {
      List<DataFrame> batches = t.batches();
      t1 = System.nanoTime();
      check(lastRowMatches(batches.getLast().root(), t.rowCount() - 1));
      t2 = System.nanoTime();
    } finally {
      t.close();
    }
    long t3 = System.nanoTime();
    return new long[] {t1 - t0, t2 - t1, t3 - t2};
  }

  /** Timed opens: the two tables take turns, in alternating order, so both see the same conditions. */
  private void opens(ObjectsBenchmark.Plan plan, IpcClient client, ObjectId small, ObjectId large, BufferAllocator allocator) {
    int n = plan.openReps();
    Map<String, Samples[]> samples = new LinkedHashMap<>();
    for (String label : List.of(SMALL, LARGE)) {
      samples.put(label, new Samples[] {new Samples(n), new Samples(n), new Samples(n), new Samples(n)});
    }
    long deadline = Measure.deadline(2 * plan.openSeconds());
    for (int i = 0; i < n && (i < 5 || System.nanoTime() < deadline); i++) {
      List<String> order = (i & 1) == 0 ? List.of(SMALL, LARGE) : List.of(LARGE, SMALL);
      for (String label : order) {
        long[] t = openOnce(client, label.equals(SMALL) ? small : large, allocator);
        Samples[] s = samples.get(label);
        long total = t[0] + t[1] + t[2];
        s[0].add(total);
        s[1].add(t[0]);
        s[2].add(t[1]);
        s[3].add(t[2]);
        out.put("rep:open_ms_" + label + "#" + i, total / 1e6);
      }
    }
    for (Map.Entry<String, Samples[]> e : samples.entrySet()) {
      String label = e.getKey();
      Samples[] s = e.getValue();
      out.put("open_ms_p50_" + label, s[0].median() / 1e6);
      out.put("open_ms_p90_" + label, s[0].percentile(90) / 1e6);
      out.put("open_ms_min_" + label, s[0].min() / 1e6);
      out.put("open_ms_max_" + label, s[0].max() / 1e6);
      out.put("open_ms_mean_" + label, s[0].mean() / 1e6);
      out.put("open_samples_" + label, s[0].count());
      out.put("open_part_ms_p50_" + label, s[1].median() / 1e6);
      out.put("read_part_us_p50_" + label, s[2].median() / 1e3);
      out.put("close_part_ms_p50_" + label, s[3].median() / 1e6);
      log("open %s: median %.3f ms, p90 %.3f ms (%d reps)", label, s[0].median() / 1e6, s[0].percentile(90) / 1e6, s[0].count());
    }
  }

  // ---------------------------------------------------------------- memcpy baseline

  private void memcpy(ObjectsBenchmark.Plan plan, long n) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment src = arena.allocate(n, 4096);
      MemorySegment dst = arena.allocate(n, 4096);
      src.fill((byte) 0x5a); // touches every page of both
      dst.fill((byte) 1);
      for (long off = 0; off < n; off += 4096) {
        src.set(ValueLayout.JAVA_BYTE, off, (byte) (off >>> 12));
      }
      MemorySegment.copy(src, 0, dst, 0, n); // untimed warm-up
      Samples s = new Samples(plan.memcpyReps());
      long deadline = Measure.deadline(plan.memcpySeconds());
      while (!s.isFull() && (s.count() < 3 || System.nanoTime() < deadline)) {
        long t0 = System.nanoTime();
        MemorySegment.copy(src, 0, dst, 0, n);
        long t = System.nanoTime() - t0;
        out.put("rep:memcpy_ms#" + s.count(), t / 1e6);
        s.add(t);
      }
      check(dst.get(ValueLayout.JAVA_BYTE, n - 4096) == src.get(ValueLayout.JAVA_BYTE, n - 4096));
      out.put("memcpy_bytes", n);
      out.put("memcpy_ms_p50", s.median() / 1e6);
      out.put("memcpy_ms_p90", s.percentile(90) / 1e6);
      out.put("memcpy_ms_min", s.min() / 1e6);
      out.put("memcpy_gbps", Measure.gbps(n, s.median()));
      out.put("memcpy_best_gbps", Measure.gbps(n, s.min()));
      out.put("memcpy_samples", s.count());
      log("memcpy %s: median %.1f ms, %.2f GB/s (%d reps)", MemorySize.format(n), s.median() / 1e6,
          Measure.gbps(n, s.median()), s.count());
    }
  }

  // ---------------------------------------------------------------- Arrow IPC file baseline

  /**
   * Reads a whole IPC file: every record batch loaded (ArrowFileReader copies it from the file into
   * memory of the allocator) and moved into a VectorSchemaRoot of its own, then the last row of the
   * last batch read and checked, then everything closed. Returns the nanoseconds.
   */
  private long readFile(Path file, BufferAllocator allocator) {
    long t0 = System.nanoTime();
    List<VectorSchemaRoot> batches = new ArrayList<>();
    try {
      long rows = 0;
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
          ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        for (ArrowBlock block : reader.getRecordBlocks()) {
          if (!reader.loadRecordBatch(block)) {
            throw new IllegalStateException("no record batch at " + block + " in " + file);
          }
          List<FieldVector> vectors = new ArrayList<>(root.getFieldVectors().size());
          for (FieldVector v : root.getFieldVectors()) {
            TransferPair tp = v.getTransferPair(allocator);
            tp.transfer();
            vectors.add((FieldVector) tp.getTo());
          }
          VectorSchemaRoot batch = new VectorSchemaRoot(root.getSchema().getFields(), vectors, root.getRowCount());
          batches.add(batch);
          rows += batch.getRowCount();
        }
      }
      if (batches.isEmpty()) {
        throw new IllegalStateException(file + " has no record batch");
      }
      check(lastRowMatches(batches.getLast(), rows - 1));
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + file, e);
    } finally {
      batches.forEach(VectorSchemaRoot::close);
    }
    return System.nanoTime() - t0;
  }

  private void fileReads(ObjectsBenchmark.Plan plan, Map<String, Path> files, BufferAllocator allocator) {
    out.put("file_first_ms_" + LARGE, readFile(files.get(LARGE), allocator) / 1e6); // untimed in the results
    int n = plan.fileReps();
    Map<String, Samples> samples = new LinkedHashMap<>();
    samples.put(SMALL, new Samples(n));
    samples.put(LARGE, new Samples(n));
    long deadline = Measure.deadline(plan.fileSeconds());
    for (int i = 0; i < n && (i < 2 || System.nanoTime() < deadline); i++) {
      List<String> order = (i & 1) == 0 ? List.of(SMALL, LARGE) : List.of(LARGE, SMALL);
      for (String label : order) {
        long t = readFile(files.get(label), allocator);
        samples.get(label).add(t);
        out.put("rep:file_ms_" + label + "#" + i, t / 1e6);
      }
    }
    for (Map.Entry<String, Samples> e : samples.entrySet()) {
      Samples s = e.getValue();
      String label = e.getKey();
      out.put("file_ms_p50_" + label, s.median() / 1e6);
      out.put("file_ms_p90_" + label, s.percentile(90) / 1e6);
      out.put("file_ms_min_" + label, s.min() / 1e6);
      out.put("file_samples_" + label, s.count());
      log("IPC file %s: median %.3f ms, p90 %.3f ms (%d reps)", label, s.median() / 1e6, s.percentile(90) / 1e6, s.count());
    }
  }

  // ---------------------------------------------------------------- helpers

  private void check(boolean ok) {
    checks++;
    if (!ok) {
      checkFailures++;
    }
  }

  private static String[] labelled(String s, String flag) {
    int eq = s.indexOf('=');
    if (eq <= 0) {
      usage(flag + " takes LABEL=VALUE, got " + s);
    }
    return new String[] {s.substring(0, eq), s.substring(eq + 1)};
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      usage(flag + " needs a value");
    }
    return args[i];
  }

  private static void usage(String why) {
    System.err.println("ObjectsReaderChild: " + why);
    System.err.println("usage: ObjectsReaderChild --socket PATH --table small=ID --table large=ID --file small=PATH"
        + " --file large=PATH --memcpy-bytes N [--quick]");
    System.exit(2);
  }

  private static void log(String fmt, Object... args) {
    Measure.log("objects-reader", fmt, args);
  }
}
