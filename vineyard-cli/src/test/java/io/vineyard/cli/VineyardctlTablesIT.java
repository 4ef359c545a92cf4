package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.LeakChecks;
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
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.util.Text;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** put/get/inspect of tables (CSV and Arrow IPC) against a real daemon, run in-process. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class VineyardctlTablesIT {

  @TempDir static Path daemonDir;
  @TempDir Path work;
  static DaemonProcess daemon;
  static String sock;

  static final String CSV = """
      user,item,amount,paid,day
      u1,i1,1.5,true,2024-01-02
      u2,i1,,false,2024-01-03
      u1,i2,-3.25,,2024-02-29
      "u, quoted",i3,7.0,true,
      """;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(daemonDir, "256Mi");
    sock = daemon.socket().toString();
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    daemon.close();
  }

  private static CtlRun ctl(byte[] stdin, String... args) {
    List<String> all = new ArrayList<>(List.of("--socket", sock));
    all.addAll(List.of(args));
    return CtlRun.run(stdin, all.toArray(String[]::new));
  }

  private static CtlRun ctl(String... args) {
    return ctl(new byte[0], args);
  }

  @Test
  void aCsvFileBecomesATableThatInspectDescribesAndGetWritesBack() throws Exception {
    Path csv = work.resolve("purchases.csv");
    Files.writeString(csv, CSV);
    CtlRun put = ctl("put", "--format", "csv", csv.toString(), "--name", "purchases-csv").ok();
    ObjectId id = ObjectId.parse(put.lastLine());

    String inspect = ctl("inspect", "purchases-csv").ok().stdout();
    assertTrue(inspect.contains("Table: 4 rows in 1 batches, 5 columns"), inspect);
    assertTrue(inspect.contains("  amount: FloatingPoint(DOUBLE)"), inspect);
    assertTrue(inspect.contains("  day: Date(DAY)"), inspect);
    assertTrue(inspect.contains("  paid: Bool"), inspect);
    assertTrue(inspect.contains("(Arrow IPC schema, base64,"), inspect);

    CtlRun csvOut = ctl("get", id.toString(), "--format", "csv").ok();
    assertEquals(CSV, csvOut.stdout());
    Path file = work.resolve("out.csv");
    ctl("get", "purchases-csv", "--format", "csv", "-o", file.toString()).ok();
    assertEquals(CSV, Files.readString(file));

  }

  @Test
  void csvFromStandardInputIsBatched() {
    CtlRun put = ctl(CSV.getBytes(StandardCharsets.UTF_8), "--output", "json", "put", "--format", "csv", "-", "--batch-rows", "3").ok();
    assertTrue(put.stdout().contains("\"typename\": \"vineyard::Table\", \"num_rows\": 4, \"num_batches\": 2"), put.toString());
    CtlRun empty = ctl("put", "--format", "csv", "-").fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(empty.stderr().contains("standard input"), empty.toString());
  }

  /** Writes a two-column table with Arrow's own writer, as a file or a stream. */
  private static void writeArrow(Path file, boolean stream) throws Exception {
    try (BufferAllocator a = new RootAllocator();
        BigIntVector id = new BigIntVector("id", a);
        VarCharVector name = new VarCharVector("name", a);
        VectorSchemaRoot root = VectorSchemaRoot.of(id, name);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        var writer = stream ? new ArrowStreamWriter(root, null, ch) : new ArrowFileWriter(root, null, ch)) {
      writer.start();
      for (int b = 0; b < 2; b++) {
        id.allocateNew(3);
        name.allocateNew();
        for (int i = 0; i < 3; i++) {
          id.set(i, b * 10L + i);
          name.setSafe(i, new Text("name " + (b * 10 + i)));
        }
        id.setValueCount(3);
        name.setValueCount(3);
        root.setRowCount(3);
        writer.writeBatch();
      }
      writer.end();
    }
  }

  @Test
  void anArrowFileGoesInAsItIsAndComesOutAsAStandardArrowFile() throws Exception {
    Path in = work.resolve("in.arrow");
    writeArrow(in, false);
    ObjectId id = ObjectId.parse(ctl("put", "--format", "arrow", in.toString()).ok().lastLine());
    String inspect = ctl("inspect", id.toString()).ok().stdout();
    assertTrue(inspect.contains("Table: 6 rows in 2 batches, 2 columns"), inspect);
    assertTrue(inspect.contains("batches:"), inspect);

    Path out = work.resolve("out.arrow");
    ctl("get", id.toString(), "--format", "arrow", "-o", out.toString()).ok();
    List<String> rows = new ArrayList<>();
    try (BufferAllocator a = new RootAllocator(); FileChannel ch = FileChannel.open(out); ArrowFileReader r = new ArrowFileReader(ch, a)) {
      while (r.loadNextBatch()) {
        VectorSchemaRoot root = r.getVectorSchemaRoot();
        for (int i = 0; i < root.getRowCount(); i++) {
          rows.add(root.getVector("id").getObject(i) + "=" + root.getVector("name").getObject(i));
        }
      }
    }
    assertEquals(List.of("0=name 0", "1=name 1", "2=name 2", "10=name 10", "11=name 11", "12=name 12"), rows);

    // A stream through standard input, and the same as CSV.
    Path stream = work.resolve("in.arrows");
    writeArrow(stream, true);
    CtlRun piped = ctl(Files.readAllBytes(stream), "put", "--format", "arrow", "-").ok();
    String csv = ctl("get", piped.lastLine(), "--format", "csv").ok().stdout();
    assertEquals("id,name\n0,name 0\n1,name 1\n2,name 2\n10,name 10\n11,name 11\n12,name 12\n", csv);
    // The file format through standard input is saved first, then read.
    ctl(Files.readAllBytes(in), "put", "--format", "arrow", "-").ok();
  }

  @Test
  void mistakesAreOneLineErrorsWithTheRightExitCode() throws Exception {
    Path ragged = work.resolve("ragged.csv");
    Files.writeString(ragged, "a,b\n1,2\n3\n");
    CtlRun r = ctl("put", "--format", "csv", ragged.toString()).fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(r.stderr().contains("line 3"), r.toString());

    Path notArrow = work.resolve("x.arrow");
    Files.writeString(notArrow, "definitely not arrow");
    ctl("put", "--format", "arrow", notArrow.toString()).fails(ExitCodes.INVALID_ARGUMENT);
    ctl("put", "--format", "csv", work.resolve("missing.csv").toString()).fails(ExitCodes.INVALID_ARGUMENT);

    String blob = ctl("put", ragged.toString()).ok().lastLine();
    CtlRun notTable = ctl("get", blob, "--format", "csv").fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(notTable.stderr().contains("vineyard::Blob"), notTable.toString());

    Path csv = work.resolve("t.csv");
    Files.writeString(csv, CSV);
    String table = ctl("put", "--format", "csv", csv.toString()).ok().lastLine();
    CtlRun hint = ctl("get", table).fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(hint.stderr().contains("--format arrow or --format csv"), hint.toString());
    CtlRun usage = ctl("put", "--format", "parquet", csv.toString());
    assertEquals(ExitCodes.INVALID_ARGUMENT, usage.code(), usage.toString());
    assertTrue(usage.stderr().contains("expected one of"), usage.toString());
    try (IpcClient c = daemon.connect()) {
      LeakChecks.assertNoOpenHandles(c);
    }
  }

  @Test
  void aTruncatedArrowFileSaysSoAndNamesTheFile() throws Exception {
    Path whole = work.resolve("whole.arrow");
    writeArrow(whole, false);
    byte[] bytes = Files.readAllBytes(whole);
    Path cut = Files.write(work.resolve("cut.arrow"), java.util.Arrays.copyOf(bytes, bytes.length - 40));
    CtlRun r = ctl("put", "--format", "arrow", cut.toString()).fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(r.stderr().contains(cut + " is not a complete Arrow IPC file"), r.toString());
    assertTrue(r.stderr().contains("truncated"), r.toString());
    // Through standard input the message names it so, not the temporary copy.
    CtlRun piped = ctl(Files.readAllBytes(cut), "put", "--format", "arrow", "-").fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(piped.stderr().contains("standard input is not a complete Arrow IPC file"), piped.toString());
  }

  @Test
  void aTabSeparatedFileNeedsOnlyDelimiterTab() throws Exception {
    Path tsv = work.resolve("p.tsv");
    Files.writeString(tsv, CSV.replace(",", "\t").replace("\"u\t quoted\"", "\"u, quoted\""));
    String id = ctl("put", "--format", "csv", "--delimiter", "tab", tsv.toString()).ok().lastLine();
    assertEquals(CSV, ctl("get", id, "--format", "csv").ok().stdout());
    assertEquals(CSV.replace(",", ";").replace("\"u; quoted\"", "u, quoted"),
        ctl("get", id, "--format", "csv", "--delimiter", "semicolon").ok().stdout());
    ctl("put", "--format", "csv", "--delimiter", "\\t", tsv.toString()).ok();
    CtlRun bad = ctl("put", "--format", "csv", "--delimiter", "ab", tsv.toString()).fails(ExitCodes.INVALID_ARGUMENT);
    assertTrue(bad.stderr().contains("--delimiter"), bad.toString());
  }

  @Test
  void inspectShowsTheRawTreeWhenATypedObjectsMetadataIsMalformed() {
    ObjectId id;
    try (IpcClient c = daemon.connect()) {
      id = c.putMeta(io.vineyard.ObjectMeta.builder("vineyard::DataFrame").field("num_rows", 3L).build());
    }
    CtlRun r = ctl("inspect", id.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.stdout().startsWith(id + "  vineyard::DataFrame"), r.toString());
    assertTrue(r.stderr().contains("malformed metadata"), r.toString());
  }

  @Test
  void inspectShortensALongListOfBatches() throws Exception {
    StringBuilder csv = new StringBuilder("n\n");
    for (int i = 0; i < 50; i++) {
      csv.append(i).append('\n');
    }
    String id = ctl(csv.toString().getBytes(StandardCharsets.UTF_8), "put", "--format", "csv", "-", "--batch-rows", "1").ok().lastLine();
    String out = ctl("inspect", id).ok().stdout();
    assertTrue(out.contains("Table: 50 rows in 50 batches"), out);
    assertTrue(out.contains("  ... 30 more ..."), out);
    assertTrue(out.contains("  49  "), out);
  }
}
