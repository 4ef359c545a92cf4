package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.objects.csv.CsvOptions;
import io.vineyard.testing.DaemonTestBase;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.ArrowWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Arrow IPC files and streams written by Arrow's own writers, and CSV, into and out of the store. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TableFilesIT extends DaemonTestBase {

  @TempDir Path work;

  /** Writes three batches of every type with Arrow's own writer; returns their rows as text. */
  private List<String> writeWithArrow(Path file, boolean stream) throws IOException {
    List<String> rows = new ArrayList<>();
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
        VectorSchemaRoot first = ArrowSamples.everyType(allocator, 4, provider);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        VectorSchemaRoot writerRoot = VectorSchemaRoot.create(first.getSchema(), allocator);
        ArrowWriter writer = stream ? new ArrowStreamWriter(writerRoot, provider, ch) : new ArrowFileWriter(writerRoot, provider, ch)) {
      writer.start();
      for (int b = 0; b < 3; b++) {
        try (VectorSchemaRoot batch = ArrowSamples.everyType(allocator, 4 + 3 * b, provider)) {
          rows.addAll(ArrowSamples.rowsOf(batch, provider));
          try (var unloaded = new org.apache.arrow.vector.VectorUnloader(batch).getRecordBatch()) {
            new org.apache.arrow.vector.VectorLoader(writerRoot).load(unloaded);
          }
          writer.writeBatch();
        }
      }
      writer.end();
    }
    return rows;
  }

  private static List<String> rowsOf(Table t) {
    List<String> rows = new ArrayList<>();
    for (DataFrame df : t.batches()) {
      rows.addAll(ArrowSamples.rowsOf(df.root(), df.dictionaries()));
    }
    return rows;
  }

  @Test
  void anArrowFileFromArrowsOwnWriterImportsWithIdenticalValuesAndExportsBackToOne() throws Exception {
    Path in = work.resolve("in.arrow");
    List<String> expected = writeWithArrow(in, false);
    ObjectId id = TableFiles.importArrow(client, in, null).id();
    Path out = work.resolve("out.arrow");
    try (Table t = Table.open(client, id, allocator)) {
      assertEquals(3, t.batches().size());
      assertEquals(expected, rowsOf(t));
      try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        TableFiles.exportArrow(t, ch, null);
      }
    }
    // What we wrote, Arrow's own file reader reads back the same.
    List<String> reread = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(out); ArrowFileReader r = new ArrowFileReader(ch, allocator)) {
      assertEquals(3, r.getRecordBlocks().size());
      while (r.loadNextBatch()) {
        reread.addAll(ArrowSamples.rowsOf(r.getVectorSchemaRoot(), r));
      }
    }
    assertEquals(expected, reread);
  }

  @Test
  void anArrowStreamImportsToo() throws Exception {
    Path in = work.resolve("in.arrows");
    List<String> expected = writeWithArrow(in, true);
    ObjectId id = TableFiles.importArrow(client, in, null).id();
    try (Table t = Table.open(client, id, allocator)) {
      assertEquals(expected, rowsOf(t));
    }
    try (var stream = Files.newInputStream(in)) {
      ObjectId again = TableFiles.importArrowStream(client, stream, "a pipe", null).id();
      try (Table t = Table.open(client, again, allocator)) {
        assertEquals(expected, rowsOf(t));
      }
    }
  }

  @Test
  void csvRoundTripsThroughATable() throws Exception {
    String csv = """
        user,item,amount,paid,day,at,note
        u1,i1,1.5,true,2024-01-02,2024-01-02T03:04:05.123456,plain
        u2,i1,,false,2024-01-03,2024-01-03T00:00:00.000000,"with, comma"
        u1,i2,-3.25,,,2024-02-29T23:59:59.999999,""
        """;
    Path file = work.resolve("p.csv");
    Files.writeString(file, csv);
    TableFiles.Imported imported = TableFiles.importCsv(client, file, CsvOptions.defaults().withBatchRows(2), null);
    assertEquals(3, imported.rows());
    assertEquals(2, imported.batches());
    assertTrue(imported.bytes() > 0);
    ObjectId id = imported.id();
    try (Table t = Table.open(client, id, allocator)) {
      assertEquals(3, t.rowCount());
      assertEquals(2, t.batches().size());
      assertEquals("[user: Utf8, item: Utf8, amount: FloatingPoint(DOUBLE), paid: Bool, day: Date(DAY), "
          + "at: Timestamp(MICROSECOND, null), note: Utf8]", t.schema().getFields().toString());
      StringWriter out = new StringWriter();
      TableFiles.exportCsv(t, out, CsvOptions.defaults(), null);
      assertEquals(csv, out.toString());
    }
  }

  @Test
  void badInputIsRefusedWithoutLeavingATable() throws Exception {
    long before = client.stats().objectCount();
    Path notArrow = work.resolve("x.arrow");
    Files.writeString(notArrow, "this is not arrow at all");
    VineyardException e = assertThrows(VineyardException.class, () -> TableFiles.importArrow(client, notArrow, null));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    // A CSV file given as Arrow: its first bytes read as a 1.9 GB message length; refused up front.
    Path csvAsArrow = work.resolve("c.csv");
    java.nio.file.Files.writeString(csvAsArrow, "user,item\nu1,i1\n");
    VineyardException csvArrow = assertThrows(VineyardException.class, () -> TableFiles.importArrow(client, csvAsArrow, null));
    assertEquals(ErrorCode.INVALID_ARGUMENT, csvArrow.code());
    assertTrue(csvArrow.getMessage().contains("does not start like Arrow IPC data"), csvArrow.getMessage());
    // A valid schema, then a message claiming 2 GiB of metadata: refused, not an OutOfMemoryError.
    Path stream = work.resolve("ok.arrows");
    writeWithArrow(stream, true);
    byte[] good = Files.readAllBytes(stream);
    int schemaLength = java.nio.ByteBuffer.wrap(good, 4, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
    Path corrupt = work.resolve("corrupt.arrows");
    try (OutputStream o = Files.newOutputStream(corrupt)) {
      o.write(good, 0, 8 + schemaLength);
      o.write(new byte[] {-1, -1, -1, -1, (byte) 0xf0, -1, -1, 0x7f});
      o.write(new byte[64]);
    }
    VineyardException huge = assertThrows(VineyardException.class, () -> TableFiles.importArrow(client, corrupt, null));
    assertEquals(ErrorCode.INVALID_ARGUMENT, huge.code());
    Path ragged = work.resolve("r.csv");
    Files.writeString(ragged, "a,b\n1,2\n3\n");
    VineyardException r = assertThrows(VineyardException.class, () -> TableFiles.importCsv(client, ragged, CsvOptions.defaults(), null));
    assertTrue(r.getMessage().contains("line 3"), r.getMessage());
    // A truncated Arrow file: its batches are stored, then the table is taken back.
    Path full = work.resolve("full.arrows");
    writeWithArrow(full, true);
    byte[] bytes = Files.readAllBytes(full);
    Path cut = work.resolve("cut.arrows");
    try (OutputStream o = Files.newOutputStream(cut)) {
      o.write(bytes, 0, bytes.length * 2 / 3);
    }
    assertThrows(VineyardException.class, () -> TableFiles.importArrow(client, cut, null));
    assertEquals(before, client.stats().objectCount(), "nothing stays behind from refused input");
    try (Tensor.Writer w = Tensor.create(client, DType.INT8, 1)) {
      ObjectId tensor = w.seal();
      try (VineyardObject o = ObjectTypes.defaults().open(client, tensor, VineyardObject.class, allocator)) {
        VineyardException notTable = assertThrows(VineyardException.class, () -> TableFiles.exportCsv(o, new StringWriter(), CsvOptions.defaults(), null));
        assertEquals(ErrorCode.INVALID_ARGUMENT, notTable.code());
      }
    }
  }

  @Test
  void aTableWithoutBatchesButWithADictionaryColumnExportsItsHeaderAsCsv() throws Exception {
    ObjectId id;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
        org.apache.arrow.vector.FieldVector colour = ArrowSamples.dictionaryEncoded(allocator, 0, provider);
        VectorSchemaRoot root = new VectorSchemaRoot(List.of(colour));
        TableWriter w = Table.writer(client, root.getSchema(), provider)) {
      id = w.finish();
    }
    try (Table t = Table.open(client, id, allocator)) {
      StringWriter out = new StringWriter();
      TableFiles.exportCsv(t, out, CsvOptions.defaults(), null);
      assertEquals("dict_utf8\n", out.toString());
    }
  }
}
