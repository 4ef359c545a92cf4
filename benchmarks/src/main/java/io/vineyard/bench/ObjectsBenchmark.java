package io.vineyard.bench;

import static io.vineyard.bench.Measure.num;
import static io.vineyard.bench.Measure.round;

import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.StoreStats;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.Table;
import io.vineyard.objects.TableWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The objects benchmark: opening an Arrow {@link Table} from another process costs the same whatever
 * its size. This process is the writer: it stores two tables of the same shape (schema, number of
 * batches, hence number of blobs) that differ only in row count, one of about 1 MiB and one of about
 * 1 GiB (quick: 256 MiB), and writes the same rows to Arrow IPC files on tmpfs. It then starts a
 * reader JVM ({@link ObjectsReaderChild}) that times, for each table, {@code Table.open} + reading
 * the last row of the last batch + {@code close}, and in the same run two baselines: a
 * {@code MemorySegment.copy} of the large table's bytes (what a copying hand-over costs at least) and
 * reading the large table back from its Arrow IPC file with {@code ArrowFileReader} (the usual way to
 * hand Arrow data to another process without a store).
 *
 * <p>Prints a table and writes a JSON file. Nothing is asserted: the target (the large table opens
 * within 1.5 times the small one's time) is reported as met or not. Every loop is bounded both in
 * iterations and in time.
 *
 * <p>Usage: {@code ObjectsBenchmark --socket PATH --file-dir DIR [--quick] [--out FILE] [--setting
 * KEY=VALUE ...]}. {@code DIR} should be on tmpfs (/dev/shm), so that the file baseline goes from
 * memory to memory.
 */
public final class ObjectsBenchmark {

  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long GIB = 1024 * MIB;

  /** Both tables have this many batches, so they have the same number of blobs. */
  static final int BATCHES = 8;
  /** Every label (the utf8 column) has this many ASCII digits. */
  static final int LABEL_BYTES = 12;
  /** Bytes per row: int64 + float64 + int32 + utf8 (4-byte offset + label), plus 4 validity bits. */
  static final double BYTES_PER_ROW = 8 + 8 + 4 + 4 + LABEL_BYTES + 4 / 8.0;

  static final Schema SCHEMA = new Schema(List.of(
      Field.nullable("id", new ArrowType.Int(64, true)),
      Field.nullable("value", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
      Field.nullable("bucket", new ArrowType.Int(32, true)),
      Field.nullable("label", ArrowType.Utf8.INSTANCE)));

  /** Target (reported, not asserted): median open of the large table within this factor of the small one's. */
  static final double TARGET_RATIO = 1.5;

  static final String SMALL = "small";
  static final String LARGE = "large";

  /** Iteration and time bounds of one mode (the reader child uses the same plan). */
  record Plan(
      String mode,
      long smallBytes,
      long largeBytes,
      int warmupRounds,
      double warmupSeconds,
      int openReps,
      double openSeconds,
      int memcpyReps,
      double memcpySeconds,
      int fileReps,
      double fileSeconds) {

    static Plan quick() {
      return new Plan("quick", MIB, 256 * MIB, 5_000, 6, 50, 10, 5, 10, 5, 30);
    }

    static Plan full() {
      return new Plan("full", MIB, GIB, 10_000, 12, 200, 30, 10, 30, 10, 90);
    }

    static Plan of(boolean quick) {
      return quick ? quick() : full();
    }
  }

  // The rows: every value is a function of the row's index in the table, so a reader can check the
  // last row it reads.

  static long idOf(long row) {
    return row;
  }

  static double valueOf(long row) {
    return row * 0.5;
  }

  static int bucketOf(long row) {
    return (int) (row % 1_000_003);
  }

  /** The label of a row: its index in decimal, zero-padded to {@link #LABEL_BYTES} digits. */
  static void labelOf(long row, byte[] out) {
    long v = row;
    for (int k = LABEL_BYTES - 1; k >= 0; k--) {
      out[k] = (byte) ('0' + v % 10);
      v /= 10;
    }
  }

  /**
   * Whether the last row of {@code batch} holds the values of row {@code row} of the table: one value
   * of every column, read through the vectors.
   */
  static boolean lastRowMatches(VectorSchemaRoot batch, long row) {
    int r = batch.getRowCount() - 1;
    if (r < 0) {
      return false;
    }
    BigIntVector id = (BigIntVector) batch.getVector(0);
    Float8Vector value = (Float8Vector) batch.getVector(1);
    IntVector bucket = (IntVector) batch.getVector(2);
    VarCharVector label = (VarCharVector) batch.getVector(3);
    byte[] expected = new byte[LABEL_BYTES];
    labelOf(row, expected);
    return id.get(r) == idOf(row)
        && value.get(r) == valueOf(row)
        && bucket.get(r) == bucketOf(row)
        && java.util.Arrays.equals(label.get(r), expected);
  }

  /** Rows per batch for a table of about {@code bytes} bytes. */
  static int rowsPerBatch(long bytes) {
    return (int) Math.max(1, Math.round(bytes / BYTES_PER_ROW / BATCHES));
  }

  private final Plan plan;
  private final Path socket;
  private final Path fileDir;
  private final Map<String, String> settings;
  private final Map<String, Object> results = new LinkedHashMap<>();
  private final Map<String, Object> details = new LinkedHashMap<>();
  private final Map<String, Object> tables = new LinkedHashMap<>();
  private final Map<String, Object> reps = new LinkedHashMap<>();
  private final List<String> errors = new ArrayList<>();
  private final Map<String, Object> daemon = new LinkedHashMap<>();

  private ObjectsBenchmark(Plan plan, Path socket, Path fileDir, Map<String, String> settings) {
    this.plan = plan;
    this.socket = socket;
    this.fileDir = fileDir;
    this.settings = settings;
  }

  public static void main(String[] args) throws IOException {
    Path socket = null;
    Path fileDir = null;
    boolean quick = false;
    Path out = Path.of("benchmarks", "results", "objects-latest.json");
    Map<String, String> settings = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--quick" -> quick = true;
        case "--socket" -> socket = Path.of(value(args, ++i, a));
        case "--file-dir" -> fileDir = Path.of(value(args, ++i, a));
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
    if (socket == null || fileDir == null) {
      usage("--socket and --file-dir are required");
    }
    ObjectsBenchmark bench = new ObjectsBenchmark(Plan.of(quick), socket, fileDir, settings);
    System.exit(bench.run(out));
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      usage(flag + " needs a value");
    }
    return args[i];
  }

  private static void usage(String why) {
    if (why != null) {
      System.err.println("ObjectsBenchmark: " + why);
    }
    System.err.println("usage: ObjectsBenchmark --socket PATH --file-dir DIR [--quick] [--out FILE] [--setting KEY=VALUE ...]");
    System.exit(why == null ? 0 : 2);
  }

  /** A table written: its id, its rows and bytes, and the IPC file holding the same rows. */
  private record Written(String label, ObjectId id, long rows, long bytes, long blobs, Path file) {}

  // ---------------------------------------------------------------- run

  private int run(Path out) throws IOException {
    long started = System.nanoTime();
    Instant startedAt = Instant.now();
    log("mode %s, daemon at %s, files in %s, tables of ~%s and ~%s in %d batches", plan.mode, socket, fileDir,
        MemorySize.format(plan.smallBytes), MemorySize.format(plan.largeBytes), BATCHES);
    List<Written> written = new ArrayList<>();
    try (IpcClient client = IpcClient.connect(socket, Duration.ofMinutes(2), "objects-bench-writer");
        BufferAllocator allocator = new RootAllocator()) {
      StoreStats first = client.stats();
      daemon.put("capacity_bytes", first.capacityBytes());
      daemon.put("instance", client.instanceId());
      phase("write", () -> {
        written.add(writeTable(client, allocator, SMALL, plan.smallBytes));
        written.add(writeTable(client, allocator, LARGE, plan.largeBytes));
      });
      if (written.size() == 2) {
        phase("read", () -> read(written.get(0), written.get(1)));
      }
      for (Written w : written) {
        client.delete(List.of(w.id), false, true);
      }
      StoreStats end = client.stats();
      details.put("daemon_blobs_left", end.blobCount());
      details.put("daemon_heap_mib_end", round(end.heapUsedBytes() / (double) MIB, 1));
    } catch (RuntimeException e) {
      errors.add("fatal: " + e);
      e.printStackTrace();
    } finally {
      for (Written w : written) {
        Files.deleteIfExists(w.file);
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;

    Map<String, Object> json = assemble(startedAt, seconds);
    printTable(json);
    Measure.writeResults(out, json);
    return errors.isEmpty() ? 0 : 1;
  }

  private void phase(String name, Runnable body) {
    Measure.phase("objects-bench", name, body, errors, details);
  }

  // ---------------------------------------------------------------- write

  /**
   * Stores a table of about {@code targetBytes} bytes ({@link #BATCHES} batches) and writes the same
   * batches to an Arrow IPC file in the file directory.
   */
  private Written writeTable(IpcClient client, BufferAllocator allocator, String label, long targetBytes) {
    int rowsPerBatch = rowsPerBatch(targetBytes);
    Path file = fileDir.resolve(label + ".arrow");
    StoreStats before = client.stats();
    long bytes = 0;
    long storeNanos = 0;
    long fileNanos = 0;
    long t0 = System.nanoTime();
    ObjectId id;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(SCHEMA, allocator);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        ArrowFileWriter fileWriter = new ArrowFileWriter(root, null, channel);
        TableWriter tableWriter = Table.writer(client, SCHEMA)) {
      fileWriter.start();
      for (int b = 0; b < BATCHES; b++) {
        fill(root, (long) b * rowsPerBatch, rowsPerBatch);
        for (FieldVector v : root.getFieldVectors()) {
          bytes += v.getBufferSize();
        }
        long s0 = System.nanoTime();
        tableWriter.append(root);
        long s1 = System.nanoTime();
        fileWriter.writeBatch();
        long s2 = System.nanoTime();
        storeNanos += s1 - s0;
        fileNanos += s2 - s1;
      }
      fileWriter.end();
      id = tableWriter.finish();
    } catch (IOException e) {
      throw new UncheckedIOException("writing " + file, e);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    StoreStats after = client.stats();
    long rows = (long) rowsPerBatch * BATCHES;
    long blobs = after.blobCount() - before.blobCount();
    long fileBytes;
    try {
      fileBytes = Files.size(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Map<String, Object> t = new LinkedHashMap<>();
    t.put("id", id.toString());
    t.put("rows", rows);
    t.put("rows_per_batch", rowsPerBatch);
    t.put("batches", BATCHES);
    t.put("bytes", bytes);
    t.put("blobs", blobs);
    t.put("daemon_used_bytes", after.usedBytes() - before.usedBytes());
    t.put("ipc_file", file.toString());
    t.put("ipc_file_bytes", fileBytes);
    t.put("write_seconds", round(seconds, 2));
    t.put("store_seconds", round(storeNanos / 1e9, 2));
    t.put("ipc_file_write_seconds", round(fileNanos / 1e9, 2));
    tables.put(label, t);
    // The ids, for anyone who wants to open the tables by hand while the reader runs.
    log("%s table %s: %,d rows in %d batches, %s in %d blobs (daemon: %s); IPC file %s, %s; written in %.1f s",
        label, id, rows, BATCHES, MemorySize.format(bytes), blobs, MemorySize.format(after.usedBytes() - before.usedBytes()),
        file, MemorySize.format(fileBytes), seconds);
    return new Written(label, id, rows, bytes, blobs, file);
  }

  /** Fills the batch with rows {@code first} .. {@code first + n - 1} of the table. */
  private static void fill(VectorSchemaRoot root, long first, int n) {
    BigIntVector id = (BigIntVector) root.getVector(0);
    Float8Vector value = (Float8Vector) root.getVector(1);
    IntVector bucket = (IntVector) root.getVector(2);
    VarCharVector label = (VarCharVector) root.getVector(3);
    id.allocateNew(n);
    value.allocateNew(n);
    bucket.allocateNew(n);
    label.allocateNew((long) n * LABEL_BYTES, n);
    byte[] text = new byte[LABEL_BYTES];
    for (int i = 0; i < n; i++) {
      long row = first + i;
      id.set(i, idOf(row));
      value.set(i, valueOf(row));
      bucket.set(i, bucketOf(row));
      labelOf(row, text);
      label.set(i, text, 0, LABEL_BYTES);
    }
    root.setRowCount(n);
  }

  // ---------------------------------------------------------------- read (in another process)

  private void read(Written small, Written large) {
    if (small.blobs != large.blobs) {
      errors.add("the tables do not have the same number of blobs: " + small.blobs + " and " + large.blobs);
    }
    Map<String, Double> child = runChild(List.of(
        "--table", SMALL + "=" + small.id,
        "--table", LARGE + "=" + large.id,
        "--file", SMALL + "=" + small.file,
        "--file", LARGE + "=" + large.file,
        "--memcpy-bytes", Long.toString(large.bytes)));
    Map<String, TreeMap<Integer, Double>> lists = new LinkedHashMap<>();
    for (Map.Entry<String, Double> e : child.entrySet()) {
      String k = e.getKey();
      if (k.startsWith("rep:")) {
        int hash = k.lastIndexOf('#');
        lists.computeIfAbsent(k.substring(4, hash), x -> new TreeMap<>())
            .put(Integer.parseInt(k.substring(hash + 1)), round(e.getValue(), 3));
      } else {
        details.put("reader_" + k, isWhole(e.getValue()) ? (Object) e.getValue().longValue() : round(e.getValue(), 4));
      }
    }
    lists.forEach((k, v) -> reps.put(k, new ArrayList<>(v.values())));

    for (String label : List.of(SMALL, LARGE)) {
      results.put("open_ms_" + label, ms(child, "open_ms_p50_" + label));
      results.put("open_p90_ms_" + label, ms(child, "open_ms_p90_" + label));
    }
    results.put("open_large_vs_small", ratio(child.get("open_ms_p50_" + LARGE), child.get("open_ms_p50_" + SMALL)));
    results.put("open_p90_large_vs_small", ratio(child.get("open_ms_p90_" + LARGE), child.get("open_ms_p90_" + SMALL)));
    Double openLarge = child.get("open_ms_p50_" + LARGE);
    results.put("memcpy_ms", ms(child, "memcpy_ms_p50"));
    results.put("memcpy_gbps", round(child.getOrDefault("memcpy_gbps", Double.NaN), 3));
    results.put("memcpy_vs_open", ratio(child.get("memcpy_ms_p50"), openLarge));
    results.put("ipc_file_read_ms_large", ms(child, "file_ms_p50_" + LARGE));
    results.put("ipc_file_read_p90_ms_large", ms(child, "file_ms_p90_" + LARGE));
    results.put("ipc_file_read_vs_open", ratio(child.get("file_ms_p50_" + LARGE), openLarge));
    results.put("ipc_file_read_ms_small", ms(child, "file_ms_p50_" + SMALL));
    results.put("ipc_file_read_large_vs_small", ratio(child.get("file_ms_p50_" + LARGE), child.get("file_ms_p50_" + SMALL)));

    double bad = child.getOrDefault("check_failures", Double.NaN);
    if (bad != 0) {
      errors.add("the reader found wrong values in " + bad + " of its checks of the last row");
    }
    double leaked = child.getOrDefault("allocator_bytes_left", Double.NaN);
    if (leaked != 0) {
      errors.add("the reader's Arrow allocator still accounts " + leaked + " bytes after closing everything");
    }
    for (String label : List.of(SMALL, LARGE)) {
      Written w = label.equals(SMALL) ? small : large;
      if (child.getOrDefault("rows_" + label, -1.0) != w.rows || child.getOrDefault("batches_" + label, -1.0) != BATCHES) {
        errors.add("the reader saw " + child.get("rows_" + label) + " rows in " + child.get("batches_" + label)
            + " batches of the " + label + " table, not " + w.rows + " in " + BATCHES);
      }
    }
  }

  private static boolean isWhole(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15;
  }

  private static Double ms(Map<String, Double> child, String key) {
    return round(child.getOrDefault(key, Double.NaN), 3);
  }

  private static Double ratio(Double a, Double b) {
    if (a == null || b == null || b == 0) {
      return Double.NaN;
    }
    return round(a / b, 3);
  }

  /** Starts the reader JVM with the same java binary, access flags and class path, and returns its figures. */
  private Map<String, Double> runChild(List<String> tableArgs) {
    String java =
        ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>(List.of(java));
    // The same access flags as this JVM (bin/java-env chose them for the JDK in use).
    for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--enable-native-access") || arg.startsWith("--add-opens") || arg.startsWith("--sun-misc")) {
        cmd.add(arg);
      }
    }
    // The memcpy baseline holds two off-heap copies of the large table (counted as direct memory).
    long direct = Math.max(GIB, 2 * plan.largeBytes + GIB);
    cmd.addAll(List.of(
        "-Xmx1g", "-XX:MaxDirectMemorySize=" + direct,
        "-cp", System.getProperty("java.class.path"),
        ObjectsReaderChild.class.getName(),
        "--socket", socket.toString()));
    if (plan.mode.equals("quick")) {
      cmd.add("--quick");
    }
    cmd.addAll(tableArgs);
    details.put("reader_jvm_flags", String.join(" ", cmd.subList(1, cmd.indexOf("-cp"))));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    long timeoutSeconds = 120 + (long) (plan.warmupSeconds + 2 * plan.openSeconds + 2 * plan.memcpySeconds
        + 2 * plan.fileSeconds) * 2;
    return Measure.runJsonChild(pb, "reader child", timeoutSeconds);
  }



  // ---------------------------------------------------------------- report

  private Map<String, Object> assemble(Instant startedAt, double seconds) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("timestamp", startedAt.truncatedTo(ChronoUnit.SECONDS).toString());
    json.put("mode", plan.mode);
    json.put("small_bytes", tableField(SMALL, "bytes"));
    json.put("large_bytes", tableField(LARGE, "bytes"));
    json.putAll(results);
    Map<String, Object> targets = new LinkedHashMap<>();
    Double r = num(results.get("open_large_vs_small"));
    targets.put("open_large_vs_small <= " + TARGET_RATIO,
        r == null || r.isNaN() ? "n/a" : r <= TARGET_RATIO ? "met" : "NOT met");
    json.put("targets", targets);
    Map<String, Object> shape = new LinkedHashMap<>();
    shape.put("schema", SCHEMA.getFields().stream().map(f -> f.getName() + ": " + f.getType()).toList());
    shape.put("batches", BATCHES);
    shape.put("label_bytes", LABEL_BYTES);
    shape.putAll(tables);
    json.put("tables", shape);
    json.put("reps", reps);

    Map<String, Object> d = new LinkedHashMap<>(settings);
    d.putAll(daemon);
    d.put("socket", socket.toString());
    d.put("file_dir", fileDir.toString());
    json.put("daemon", d);

    Map<String, Object> host = new LinkedHashMap<>();
    host.put("cpus", Runtime.getRuntime().availableProcessors());
    host.put("java_version", System.getProperty("java.vm.version"));
    host.put("java_vm", System.getProperty("java.vm.name"));
    host.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
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

  @SuppressWarnings("unchecked")
  private Object tableField(String label, String key) {
    Object t = tables.get(label);
    return t instanceof Map<?, ?> m ? ((Map<String, Object>) m).get(key) : null;
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

  @SuppressWarnings("unchecked")
  private void printTable(Map<String, Object> json) {
    String small = sizeOf(json.get("small_bytes"));
    String large = sizeOf(json.get("large_bytes"));
    StringBuilder sb = new StringBuilder();
    sb.append('\n').append(String.format(Locale.ROOT, "Vineyard objects benchmark, %s mode, %s%n", plan.mode, json.get("timestamp")));
    Object ts = tableField(SMALL, "rows");
    Object tl = tableField(LARGE, "rows");
    sb.append(String.format(Locale.ROOT, "tables: %d batches of (int64, float64, int32, utf8[%d]); small %s, %s rows, %s blobs;"
            + " large %s, %s rows, %s blobs%n", BATCHES, LABEL_BYTES, small, Measure.fmt(ts), Measure.fmt(ts == null ? null : tableField(SMALL, "blobs")),
        large, Measure.fmt(tl), Measure.fmt(tl == null ? null : tableField(LARGE, "blobs"))));
    sb.append(String.format(Locale.ROOT, "daemon: %s%n", json.get("daemon")));
    sb.append(String.format(Locale.ROOT, "%-52s %11s %11s %12s%n", "from a second JVM", "median ms", "p90 ms", "÷ open large"));
    sb.append("-".repeat(89)).append('\n');
    line(sb, "Table.open + read last row + close, " + small, json.get("open_ms_small"), json.get("open_p90_ms_small"),
        ratio(num(json.get("open_ms_small")), num(json.get("open_ms_large"))));
    line(sb, "Table.open + read last row + close, " + large, json.get("open_ms_large"), json.get("open_p90_ms_large"), 1.0);
    Map<String, Object> targets = (Map<String, Object>) json.get("targets");
    sb.append(String.format(Locale.ROOT, "%-52s %11s %11s   target <= %.1f: %s%n", "  large ÷ small",
        x(json.get("open_large_vs_small")), x(json.get("open_p90_large_vs_small")), TARGET_RATIO,
        targets.values().iterator().next()));
    line(sb, "baseline: memcpy of " + large + " (off-heap, pre-touched)", json.get("memcpy_ms"), details.get("reader_memcpy_ms_p90"),
        json.get("memcpy_vs_open"));
    line(sb, "baseline: ArrowFileReader, IPC file on tmpfs, " + large, json.get("ipc_file_read_ms_large"),
        json.get("ipc_file_read_p90_ms_large"), json.get("ipc_file_read_vs_open"));
    line(sb, "  (info) the same for the " + small + " file", json.get("ipc_file_read_ms_small"), details.get("reader_file_ms_p90_small"),
        ratio(num(json.get("ipc_file_read_ms_small")), num(json.get("open_ms_large"))));
    sb.append("-".repeat(89)).append('\n');
    sb.append(String.format(Locale.ROOT, "memcpy %s GB/s; IPC file read large ÷ small %s; open split (median, large): Table.open %s ms,"
            + " read %s us, close %s ms%n", Measure.fmt(json.get("memcpy_gbps")), x(json.get("ipc_file_read_large_vs_small")),
        Measure.fmt(details.get("reader_open_part_ms_p50_large")), Measure.fmt(details.get("reader_read_part_us_p50_large")),
        Measure.fmt(details.get("reader_close_part_ms_p50_large"))));
    sb.append(String.format(Locale.ROOT, "first open (untimed, after connecting): %s %s ms, %s %s ms; reps: open %s / %s, file %s / %s%n",
        small, Measure.fmt(details.get("reader_first_open_ms_small")), large, Measure.fmt(details.get("reader_first_open_ms_large")),
        details.get("reader_open_samples_small"), details.get("reader_open_samples_large"),
        details.get("reader_file_samples_small"), details.get("reader_file_samples_large")));
    if (!errors.isEmpty()) {
      sb.append("ERRORS:\n");
      errors.forEach(e -> sb.append("  ").append(e).append('\n'));
    }
    System.out.print(sb);
  }

  private static String sizeOf(Object bytes) {
    Double d = num(bytes);
    return d == null ? "n/a" : MemorySize.format(d.longValue());
  }

  private static void line(StringBuilder sb, String what, Object median, Object p90, Object vsOpen) {
    sb.append(String.format(Locale.ROOT, "%-52s %11s %11s %12s%n", what, msText(median), msText(p90), x(vsOpen)));
  }

  private static String msText(Object v) {
    Double d = num(v);
    return d == null || d.isNaN() ? "n/a" : String.format(Locale.ROOT, d >= 100 ? "%,.1f" : "%.3f", d);
  }

  private static String x(Object v) {
    Double d = num(v);
    return d == null || d.isNaN() ? "n/a" : String.format(Locale.ROOT, d >= 100 ? "%,.0f x" : "%.2f x", d);
  }

  private static void log(String fmt, Object... args) {
    Measure.log("objects-bench", fmt, args);
  }
}
