package io.vineyard.objects;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.IpcClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A DataFrame: one Arrow record batch (a schema and its columns) whose every buffer is a blob.
 *
 * <p>{@link #write} copies a {@link VectorSchemaRoot} into the store once; {@link #open} gives it back
 * as a {@code VectorSchemaRoot} whose buffers are the daemon's shared memory: no byte is copied, so
 * opening costs the same for a kilobyte and for gigabytes, and every process that opens it reads the
 * same pages. The vectors are read-only (the memory is mapped read-only): do not write to them.
 *
 * <p>Every type Arrow Java has is stored as it is: integers, floating point, decimals, dates, times,
 * timestamps, durations, intervals, strings and binaries (also large and view variants), booleans,
 * nulls, lists, structs, maps, unions and dictionary-encoded columns, at any nesting. A table larger
 * than one batch is a {@link Table}.
 *
 * <p>Threads: an open DataFrame is immutable, and its vectors may be read from any number of threads
 * at once (they are read-only views of sealed memory). {@link #close()} is not to be raced with
 * readers or with another {@code close()}: call it once, from one thread, after every reader is done
 * (Arrow's vectors are not thread-safe to close); it releases every pin in one message, which does
 * not wait behind other threads' calls on the same {@link IpcClient}. The client itself may be
 * shared by many threads opening and writing DataFrames.
 */
public final class DataFrame implements VineyardObject {

  public static final String TYPENAME = "vineyard::DataFrame";

  static final ObjectType<DataFrame> TYPE = ObjectType.of(TYPENAME, DataFrame.class, FrameCodec::read);

  private final IpcClient client;
  private final ObjectMeta meta;
  private final VectorSchemaRoot root;
  private final DictionaryProvider.MapDictionaryProvider dictionaries;
  private final List<DataFrame> dictionaryFrames;

  DataFrame(
      IpcClient client, ObjectMeta meta, VectorSchemaRoot root, Map<Long, Dictionary> dictionaries, List<DataFrame> dictionaryFrames) {
    this.client = client;
    this.meta = meta;
    this.root = root;
    this.dictionaries = new DictionaryProvider.MapDictionaryProvider();
    dictionaries.values().forEach(this.dictionaries::put);
    this.dictionaryFrames = new ArrayList<>(dictionaryFrames);
  }

  /** Stores a record batch that has no dictionary-encoded columns; returns the DataFrame's id. */
  public static ObjectId write(IpcClient client, VectorSchemaRoot root) {
    return write(client, root, null);
  }

  /**
   * Stores a record batch and the dictionaries its dictionary-encoded columns use (from
   * {@code provider}, which may be null when there are none). On failure nothing stays behind.
   */
  public static ObjectId write(IpcClient client, VectorSchemaRoot root, DictionaryProvider provider) {
    List<ObjectId> created = new ArrayList<>();
    try {
      return FrameCodec.write(client, root, provider, new FrameCodec.DictionaryCache(), created, -1);
    } catch (RuntimeException e) {
      FrameCodec.discard(client, created, e);
      throw e;
    }
  }

  /** Opens a DataFrame over shared memory, its buffers accounted to the default allocator. */
  public static DataFrame open(IpcClient client, ObjectId id) {
    return ObjectTypes.defaults().open(client, id, DataFrame.class);
  }

  /** Opens a DataFrame over shared memory, its buffers accounted to {@code allocator}. */
  public static DataFrame open(IpcClient client, ObjectId id, BufferAllocator allocator) {
    return ObjectTypes.defaults().open(client, id, DataFrame.class, allocator);
  }

  @Override
  public ObjectMeta meta() {
    return meta;
  }

  /** The columns, over shared memory. Closing the DataFrame closes the root. */
  public VectorSchemaRoot root() {
    return root;
  }

  /** The dictionaries of the dictionary-encoded columns (empty when there are none). */
  public DictionaryProvider dictionaries() {
    return dictionaries;
  }

  public Schema schema() {
    return root.getSchema();
  }

  public int rowCount() {
    return root.getRowCount();
  }

  @Override
  public void close() {
    // Every buffer pins a blob: release them all in one message.
    client.batchReleases(() -> {
      root.close();
      for (DataFrame d : dictionaryFrames) {
        d.close();
      }
    });
  }

  @Override
  public String toString() {
    return "DataFrame{" + meta.id() + ", " + root.getRowCount() + " rows, " + root.getSchema() + "}";
  }
}
