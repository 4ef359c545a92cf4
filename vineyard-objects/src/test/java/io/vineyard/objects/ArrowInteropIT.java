package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Field;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Arrow IPC files between us and another Arrow implementation: Arrow's JavaScript library
 * (apache-arrow from the npm registry) reads what we export, and we import what it writes. Skipped
 * only where there is no node or npm to install it with.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ArrowInteropIT {

  @TempDir static Path dir;
  static Path js;
  static DaemonProcess daemon;

  @BeforeAll
  static void setUp() throws Exception {
    assumeTrue(onPath("node") && onPath("npm"), "node and npm are needed to run Arrow's JavaScript implementation");
    Path modules = dir.resolve("js");
    Files.createDirectories(modules);
    Run npm = run(modules, 120, "npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", modules.toString(), "apache-arrow@21");
    assumeTrue(npm.code == 0, "npm could not install apache-arrow: " + npm.output);
    js = modules.resolve("arrow-js.mjs");
    try (InputStream in = ArrowInteropIT.class.getResourceAsStream("/interop/arrow-js.mjs")) {
      Files.copy(in, js);
    }
    daemon = DaemonProcess.start(dir, "256m");
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static boolean onPath(String tool) {
    for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
        return true;
      }
    }
    return false;
  }

  record Run(int code, String output) {}

  private static Run run(Path cwd, int seconds, String... cmd) throws IOException, InterruptedException {
    Path log = Files.createTempFile(dir, "run", ".log");
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      return new Run(-1, "timed out: " + String.join(" ", cmd));
    }
    return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  /** Column {@code name} of every batch as JavaScript would print it (dictionaries decoded). */
  private static List<String> column(Table t, String name) {
    List<String> out = new ArrayList<>();
    for (DataFrame df : t.batches()) {
      FieldVector v = df.root().getVector(name);
      for (int i = 0; i < df.rowCount(); i++) {
        Object o = v.getObject(i);
        if (o != null && v.getField().getDictionary() != null) {
          o = df.dictionaries().lookup(v.getField().getDictionary().getId()).getVector().getObject(((Number) o).intValue());
        }
        out.add(o == null ? "null" : "\"" + js(o) + "\"");
      }
    }
    return out;
  }

  private static String js(Object o) {
    if (o instanceof Boolean b) {
      return b.toString();
    }
    if (o instanceof Double d) {
      return d == Math.rint(d) && !Double.isInfinite(d) ? Long.toString(d.longValue()) : (d.isNaN() ? "NaN" : d.toString());
    }
    return o.toString().replace("\\", "\\\\").replace("\"", "\\\"");
  }

  @Test
  void javascriptArrowReadsWhatWeExport() throws Exception {
    Path in = dir.resolve("samples.arrow");
    Path out = dir.resolve("exported.arrow");
    try (IpcClient client = daemon.connect(); BufferAllocator allocator = new RootAllocator()) {
      ObjectId id;
      try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
          VectorSchemaRoot root = ArrowSamples.everyType(allocator, 12, provider)) {
        id = DataFrame.write(client, root, provider);
      }
      try (DataFrame df = DataFrame.open(client, id, allocator);
          FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        TableFiles.exportArrow(df, ch, null);
      }
      Files.deleteIfExists(in);
      Run r = run(dir, 60, "node", js.toString(), "read", out.toString());
      assertEquals(0, r.code, r.output);
      String json = r.output.strip();
      assertEquals(true, json.startsWith("{\"rows\":12,\"batches\":1,"), json);
      ObjectId tableId = TableFiles.importArrow(client, out, null).id();
      try (Table t = Table.open(client, tableId, allocator)) {
        String names = t.schema().getFields().stream().map(Field::getName).map(n -> "\"" + n + "\"").toList().toString().replace(" ", "");
        assertEquals(true, json.contains("\"fields\":" + names), json + "\n" + names);
        for (String c : List.of("int64", "float64", "utf8", "bool", "dict_utf8")) {
          String expected = "\"" + c + "\":[" + String.join(",", column(t, c)) + "]";
          assertEquals(true, json.contains(expected), "column " + c + ": JavaScript read\n" + json + "\nexpected\n" + expected);
        }
      }
    }
  }

  @Test
  void whatJavascriptArrowWritesImportsWithItsValues() throws Exception {
    Path file = dir.resolve("from-js.arrow");
    Run r = run(dir, 60, "node", js.toString(), "write", file.toString());
    assertEquals(0, r.code, r.output);
    try (IpcClient client = daemon.connect(); BufferAllocator allocator = new RootAllocator()) {
      ObjectId id = TableFiles.importArrow(client, file, null).id();
      try (Table t = Table.open(client, id, allocator)) {
        assertEquals(4, t.rowCount());
        assertEquals(List.of("\"1\"", "\"2\"", "\"3\"", "\"4\""), column(t, "id"));
        assertEquals(List.of("\"0.5\"", "\"-1.25\"", "\"3\"", "\"10000000000\""), column(t, "score"));
        assertEquals(List.of("\"ada\"", "\"grace\"", "null", "\"édith\""), column(t, "name"));
        assertEquals(List.of("\"red\"", "\"blue\"", "\"red\"", "\"red\""), column(t, "colour"));
      }
    }
  }
}
