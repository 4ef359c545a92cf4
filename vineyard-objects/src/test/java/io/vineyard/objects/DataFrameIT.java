package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonTestBase;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** DataFrames against a real daemon: every Arrow type, nulls, zero rows, no copy, another process. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DataFrameIT extends DaemonTestBase {

  private ObjectId store(int rows, DictionaryProvider.MapDictionaryProvider provider, List<String> expected) {
    try (VectorSchemaRoot root = ArrowSamples.everyType(allocator, rows, provider)) {
      expected.addAll(ArrowSamples.rowsOf(root, provider));
      return DataFrame.write(client, root, provider);
    }
  }

  @Test
  void everyArrowTypeRoundTripsWithoutCopy() {
    List<String> expected = new java.util.ArrayList<>();
    ObjectId id;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider()) {
      id = store(50, provider, expected);
    }
    try (DataFrame df = DataFrame.open(client, id, allocator)) {
      assertEquals(50, df.rowCount());
      assertEquals(ArrowSamples.rowsOf(df.root(), df.dictionaries()), expected);
      assertTrue(SharedMemoryCheck.allBuffersShared(client, df), "a buffer was copied out of shared memory");
      assertEquals(DataFrame.TYPENAME, df.meta().typename());
      assertTrue(df.meta().nbytes() > 0);
    }
  }

  @Test
  void zeroRowsRoundTrip() {
    List<String> expected = new java.util.ArrayList<>();
    ObjectId id;
    String schemaText;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider()) {
      try (VectorSchemaRoot root = ArrowSamples.everyType(allocator, 0, provider)) {
        schemaText = root.getSchema().toString();
        id = DataFrame.write(client, root, provider);
      }
    }
    try (DataFrame df = DataFrame.open(client, id, allocator)) {
      assertEquals(0, df.rowCount());
      assertEquals(schemaText, df.schema().toString());
      assertEquals(expected, ArrowSamples.rowsOf(df.root(), df.dictionaries()));
    }
  }

  @Test
  void columnsWithoutNullsOrOnlyNullsStayInSharedMemory() {
    ObjectId id;
    try (BigIntVector none = new BigIntVector("no_nulls", allocator);
        BigIntVector all = new BigIntVector("all_nulls", allocator)) {
      none.allocateNew(1000);
      all.allocateNew(1000);
      for (int i = 0; i < 1000; i++) {
        none.set(i, i);
        all.setNull(i);
      }
      none.setValueCount(1000);
      all.setValueCount(1000);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(none, all)) {
        id = DataFrame.write(client, root);
      }
    }
    try (DataFrame df = DataFrame.open(client, id, allocator)) {
      assertEquals(0, df.root().getVector("no_nulls").getNullCount());
      assertEquals(1000, df.root().getVector("all_nulls").getNullCount());
      assertEquals(999L, ((BigIntVector) df.root().getVector("no_nulls")).get(999));
      assertTrue(SharedMemoryCheck.allBuffersShared(client, df), "a validity bitmap was rebuilt instead of shared");
    }
  }

  @Test
  void anotherProcessReadsTheSameRows() throws Exception {
    List<String> expected = new java.util.ArrayList<>();
    ObjectId id;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider()) {
      id = store(20, provider, expected);
    }
    ChildJvm.Result r = ChildJvm.run(dir.resolve("reader.log"), 60, ObjectPrograms.PrintRows.class, daemon.socket().toString(), id.toString());
    assertEquals(0, r.exitCode(), r.output());
    List<String> rows = r.output().lines().filter(l -> l.startsWith("ROW ")).map(l -> l.substring(4)).toList();
    assertEquals(expected, rows);
    assertTrue(r.output().contains("SHARED true"), r.output());
    assertTrue(r.output().contains("LEAKED 0 0"), r.output());
  }

  @Test
  void aDictionaryColumnWithoutItsDictionaryIsRefusedAndLeavesNothing() {
    long before = client.stats().objectCount();
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider();
        VectorSchemaRoot root = ArrowSamples.everyType(allocator, 5, provider)) {
      VineyardException e = assertThrows(VineyardException.class, () -> DataFrame.write(client, root));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("dict_utf8"), e.getMessage());
    }
    assertEquals(before, client.stats().objectCount());
  }

  @Test
  void openingAsTheWrongTypeSaysWhatItIs() {
    ObjectId id;
    try (BigIntVector v = new BigIntVector("x", allocator)) {
      v.allocateNew(1);
      v.set(0, 1);
      v.setValueCount(1);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(v)) {
        id = DataFrame.write(client, root);
      }
    }
    VineyardException e = assertThrows(VineyardException.class, () -> Tensor.open(client, id, allocator));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains("vineyard::DataFrame"), e.getMessage());
    ObjectId blob = client.getMeta(id).member("buffer_1").id();
    VineyardException unknown = assertThrows(VineyardException.class, () -> ObjectTypes.defaults().open(client, blob));
    assertEquals(ErrorCode.NOT_FOUND, unknown.code());
  }

  /** Closing a DataFrame releases all its blobs in one message, sent when the close ends. */
  @Test
  void closingReleasesEveryPinInOneBatch() {
    List<String> expected = new java.util.ArrayList<>();
    ObjectId id;
    try (DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider()) {
      id = store(10, provider, expected);
    }
    DataFrame df = DataFrame.open(client, id, allocator);
    long pinned = client.stats().pinnedBlobCount();
    assertTrue(pinned > 40, "pinned " + pinned);
    client.batchReleases(() -> {
      df.close();
      assertEquals(pinned, client.stats().pinnedBlobCount(), "releases wait for the end of the batch");
    });
    assertEquals(0, client.stats().pinnedBlobCount());
  }
}
