package io.vineyard.objects;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;

/**
 * A Table: an ordered sequence of record batches ({@link DataFrame}s) with one schema. Batches are
 * stored apart, so a table can be larger than any one blob, and opening it maps every batch over
 * shared memory without copying.
 *
 * <p>Metadata: {@code schema} (the Arrow IPC schema, base64), {@code num_rows}, {@code num_batches},
 * the column names, and members {@code batch_0}, {@code batch_1}, ... in order.
 */
public final class Table implements VineyardObject {

  public static final String TYPENAME = "vineyard::Table";
  static final String NUM_BATCHES = "num_batches";

  static final ObjectType<Table> TYPE = ObjectType.of(TYPENAME, Table.class, Table::read);

  private final IpcClient client;
  private final ObjectMeta meta;
  private final Schema schema;
  private final List<DataFrame> batches;

  private Table(IpcClient client, ObjectMeta meta, Schema schema, List<DataFrame> batches) {
    this.client = client;
    this.meta = meta;
    this.schema = schema;
    this.batches = Collections.unmodifiableList(batches);
  }

  static String batchMember(int i) {
    return "batch_" + i;
  }

  /** A writer of a new table with this schema (dictionary-encoded fields have their index type). */
  public static TableWriter writer(IpcClient client, Schema schema) {
    return new TableWriter(client, schema, null);
  }

  /**
   * A writer of a new table whose dictionary-encoded columns take their value types from
   * {@code dictionaries} (an Arrow reader is one), so that even a table with no batch keeps them.
   */
  public static TableWriter writer(IpcClient client, Schema schema, DictionaryProvider dictionaries) {
    return new TableWriter(client, schema, dictionaries);
  }

  public static Table open(IpcClient client, ObjectId id) {
    return ObjectTypes.defaults().open(client, id, Table.class);
  }

  public static Table open(IpcClient client, ObjectId id, BufferAllocator allocator) {
    return ObjectTypes.defaults().open(client, id, Table.class, allocator);
  }

  private static Table read(ObjectContext context, ObjectMeta meta) {
    context.fetchBlobs(meta); // every batch's blobs in one round trip
    long n = meta.getLong(NUM_BATCHES);
    List<DataFrame> batches = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ObjectMeta b = meta.members().get(batchMember(i));
        if (b == null) {
          throw ArrowBody.malformed(meta, "batch " + i + " is missing");
        }
        batches.add(FrameCodec.read(context, b));
      }
      Schema schema = batches.isEmpty() ? memorySchema(meta) : batches.getFirst().schema();
      return new Table(context.client(), meta, schema, batches);
    } catch (RuntimeException e) {
      batches.forEach(DataFrame::close);
      throw e;
    }
  }

  /** The table's schema in memory form, for a table with no batch to take it from. */
  private static Schema memorySchema(ObjectMeta meta) {
    Schema message = FrameCodec.decodeSchema(meta);
    Map<Long, Dictionary> scratch = new HashMap<>();
    try (BufferAllocator a = new org.apache.arrow.memory.RootAllocator()) {
      List<Field> fields = new ArrayList<>();
      for (Field f : message.getFields()) {
        fields.add(DictionaryUtility.toMemoryFormat(f, a, scratch));
      }
      scratch.values().forEach(d -> d.getVector().close());
      return new Schema(fields, message.getCustomMetadata());
    }
  }

  @Override
  public ObjectMeta meta() {
    return meta;
  }

  public Schema schema() {
    return schema;
  }

  /** The batches in order, each over shared memory. */
  public List<DataFrame> batches() {
    return batches;
  }

  public long rowCount() {
    return meta.getLong(ArrowBody.NUM_ROWS);
  }

  @Override
  public void close() {
    client.batchReleases(() -> batches.forEach(DataFrame::close));
  }

  @Override
  public String toString() {
    return "Table{" + meta.id() + ", " + rowCount() + " rows in " + batches.size() + " batches}";
  }
}
