package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonTestBase;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.util.Text;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Tables against a real daemon: many batches, shared and changing dictionaries, over 2 GiB, aborts. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class TableIT extends DaemonTestBase {

  @Test
  void batchesComeBackInOrderAndShareAnUnchangedDictionary() {
    List<String> expected = new ArrayList<>();
    ObjectId id;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider()) {
      TableWriter w = null;
      for (int b = 0; b < 3; b++) {
        try (VectorSchemaRoot root = ArrowSamples.everyType(allocator, 7 + b, provider)) {
          if (w == null) {
            w = Table.writer(client, root.getSchema());
          }
          expected.addAll(ArrowSamples.rowsOf(root, provider));
          w.append(root, provider);
        }
      }
      assertEquals(3, w.batchCount());
      assertEquals(7 + 8 + 9, w.rowCount());
      id = w.finish();
    }
    try (Table t = Table.open(client, id, allocator)) {
      assertEquals(3, t.batches().size());
      assertEquals(24, t.rowCount());
      List<String> got = new ArrayList<>();
      for (DataFrame df : t.batches()) {
        got.addAll(ArrowSamples.rowsOf(df.root(), df.dictionaries()));
        assertTrue(SharedMemoryCheck.allBuffersShared(client, df));
      }
      assertEquals(expected, got);
      ObjectId dict0 = t.batches().get(0).meta().member("dictionary_7").id();
      for (DataFrame df : t.batches()) {
        assertEquals(dict0, df.meta().member("dictionary_7").id(), "an unchanged dictionary is stored once");
      }
    }
  }

  @Test
  void aDictionaryThatChangesBetweenBatchesIsStoredAgain() {
    ObjectId id;
    try (VarCharVector values = new VarCharVector("d", allocator);
        BigIntVector idx = new BigIntVector("code", new org.apache.arrow.vector.types.pojo.FieldType(
            true, new ArrowType.Int(64, true), new DictionaryEncoding(1, false, new ArrowType.Int(64, true))), allocator)) {
      DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
      Dictionary dict = new Dictionary(values, idx.getField().getDictionary());
      provider.put(dict);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(idx)) {
        TableWriter w = Table.writer(client, root.getSchema());
        for (String[] words : new String[][] {{"a", "b"}, {"x", "y", "z"}}) {
          values.allocateNew();
          for (int i = 0; i < words.length; i++) {
            values.setSafe(i, new Text(words[i]));
          }
          values.setValueCount(words.length);
          idx.allocateNew(2);
          idx.set(0, 1);
          idx.set(1, 0);
          idx.setValueCount(2);
          root.setRowCount(2);
          w.append(root, provider);
        }
        id = w.finish();
      }
    }
    try (Table t = Table.open(client, id, allocator)) {
      assertEquals(List.of("code=b ", "code=a "), ArrowSamples.rowsOf(t.batches().get(0).root(), t.batches().get(0).dictionaries()));
      assertEquals(List.of("code=y ", "code=x "), ArrowSamples.rowsOf(t.batches().get(1).root(), t.batches().get(1).dictionaries()));
      assertNotEquals(t.batches().get(0).meta().member("dictionary_1").id(), t.batches().get(1).meta().member("dictionary_1").id());
    }
  }

  @Test
  void aTableWithoutBatchesKeepsItsSchema() {
    ObjectId id;
    try (VectorSchemaRoot root = VectorSchemaRoot.of(new BigIntVector("a", allocator), new Float8Vector("b", allocator));
        TableWriter w = Table.writer(client, root.getSchema())) {
      id = w.finish();
      try (Table t = Table.open(client, id, allocator)) {
        assertEquals(root.getSchema(), t.schema());
        assertEquals(0, t.rowCount());
        assertTrue(t.batches().isEmpty());
      }
    }
  }

  @Test
  void aBatchOfAnotherSchemaIsRefusedAndTheUnfinishedTableIsDeleted() {
    long before = client.stats().objectCount();
    try (BigIntVector a = new BigIntVector("a", allocator); Float8Vector b = new Float8Vector("b", allocator)) {
      a.allocateNew(1);
      a.set(0, 1);
      a.setValueCount(1);
      b.allocateNew(1);
      b.set(0, 1);
      b.setValueCount(1);
      try (VectorSchemaRoot ra = VectorSchemaRoot.of(a); VectorSchemaRoot rb = VectorSchemaRoot.of(b)) {
        TableWriter w = Table.writer(client, ra.getSchema());
        w.append(ra);
        assertTrue(client.stats().objectCount() > before);
        VineyardException e = assertThrows(VineyardException.class, () -> w.append(rb));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        w.close();
        assertEquals(before, client.stats().objectCount(), "a refused table leaves nothing behind");

        try (TableWriter unfinished = Table.writer(client, ra.getSchema())) {
          unfinished.append(ra);
        }
        assertEquals(before, client.stats().objectCount(), "closing an unfinished writer deletes its batches");
      }
    }
  }

  /** 9 batches of 256 MiB (an int64 column of 32 Mi rows): 2.25 GiB in all, read by another JVM. */
  @Test
  void aTableOverTwoGibibytesIsReadWholeByAnotherProcess() throws Exception {
    int rows = 32 << 20;
    int batches = 9;
    ObjectId id;
    long expectedSum = 0;
    try (BigIntVector v = new BigIntVector("v", allocator)) {
      v.allocateNew(rows);
      for (int i = 0; i < rows; i++) {
        v.set(i, i & 0xff);
      }
      v.setValueCount(rows);
      long base = 0;
      for (int i = 0; i < rows; i++) {
        base += i & 0xff;
      }
      try (VectorSchemaRoot root = VectorSchemaRoot.of(v); TableWriter w = Table.writer(client, root.getSchema())) {
        for (int b = 0; b < batches; b++) {
          v.set(0, 1_000_000L * b); // tells the batches apart
          expectedSum += base + 1_000_000L * b;
          w.append(root);
        }
        id = w.finish();
      }
    }
    try (Table t = Table.open(client, id, allocator)) {
      assertEquals((long) rows * batches, t.rowCount());
      assertTrue(t.meta().nbytes() > (2L << 30), "nbytes " + t.meta().nbytes());
      for (int b = 0; b < batches; b++) {
        FieldVector v = t.batches().get(b).root().getVector("v");
        assertEquals(1_000_000L * b, ((BigIntVector) v).get(0));
        assertEquals((rows - 1) & 0xff, ((BigIntVector) v).get(rows - 1));
      }
    }
    ChildJvm.Result r = ChildJvm.run(dir.resolve("sum.log"), 120, ObjectPrograms.SumColumn.class, daemon.socket().toString(), id.toString());
    assertEquals(0, r.exitCode(), r.output());
    assertTrue(r.output().contains("TABLE rows=" + (long) rows * batches + " batches=" + batches + " sum=" + expectedSum), r.output());
    client.delete(List.of(id), false, true);
  }

  /** A writer whose JVM is stopped (SIGTERM, as Ctrl-C) before finish leaves nothing behind. */
  @Test
  void aWriterStoppedBeforeFinishDeletesItsBatches() throws Exception {
    long before = client.stats().objectCount();
    Process p = ChildJvm.start(dir.resolve("slow.log"), List.of(), ObjectPrograms.SlowTableWriter.class, daemon.socket().toString());
    try {
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!java.nio.file.Files.readString(dir.resolve("slow.log")).contains("APPENDED 5") && System.nanoTime() < deadline) {
        assertTrue(p.isAlive(), java.nio.file.Files.readString(dir.resolve("slow.log")));
        Thread.sleep(50);
      }
      assertTrue(client.stats().objectCount() > before);
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    } finally {
      p.destroyForcibly();
    }
    assertEquals(before, client.stats().objectCount(), "the stopped writer's batches were deleted at exit");
  }

  /** With its dictionaries given up front, a table with no batch keeps its dictionary-encoded column. */
  @Test
  void aTableWithoutBatchesKeepsItsDictionaryEncodingAndExports() throws Exception {
    ObjectId id;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
        FieldVector encoded = ArrowSamples.dictionaryEncoded(allocator, 0, provider);
        VectorSchemaRoot root = new VectorSchemaRoot(List.of(encoded))) {
      try (TableWriter w = Table.writer(client, root.getSchema(), provider)) {
        id = w.finish();
      }
      try (Table t = Table.open(client, id, allocator)) {
        assertEquals(root.getSchema(), t.schema());
        Path out = dir.resolve("empty-dict.arrow");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(
            out, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
          TableFiles.exportArrow(t, ch, null);
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(out);
            org.apache.arrow.vector.ipc.ArrowFileReader r = new org.apache.arrow.vector.ipc.ArrowFileReader(ch, allocator)) {
          var field = r.getVectorSchemaRoot().getSchema().getFields().getFirst();
          assertEquals(7L, field.getDictionary().getId());
          assertEquals(new ArrowType.Utf8(), r.getDictionaryVectors().get(7L).getVector().getField().getType());
          assertEquals(false, r.loadNextBatch());
        }
      }
    }
  }
}
