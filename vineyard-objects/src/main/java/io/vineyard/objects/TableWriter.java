package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import io.vineyard.objects.internal.JsonText;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes a {@link Table} batch by batch: each {@link #append} stores one record batch as a
 * {@link DataFrame}, so a table can be far larger than any one batch and than the Java heap.
 * {@link #finish()} stores the table itself and returns its id; closing a writer that did not
 * finish deletes what it wrote.
 *
 * <p>A dictionary that does not change between batches is stored once and shared by them.
 *
 * <p>If the JVM exits before {@link #finish()} (Ctrl-C, SIGTERM, {@code System.exit}), a shutdown
 * hook deletes what the writer stored. A process killed outright (SIGKILL, the OOM killer) leaves
 * its sealed batches behind; they have no name and no parent, and {@code vineyardctl ls} shows them.
 */
public final class TableWriter implements AutoCloseable {

  private final IpcClient client;
  private final Schema schema;
  private final DictionaryProvider schemaDictionaries;
  private final FrameCodec.DictionaryCache dictionaries = new FrameCodec.DictionaryCache();
  private final List<ObjectId> created = new ArrayList<>();
  private final List<ObjectId> batches = new ArrayList<>();
  private String messageSchema;
  private long rows;
  private volatile boolean finished;
  private volatile boolean closed;
  private final Thread exitHook = new Thread(this::abandonAtExit, "vineyard-table-writer-exit");
  private boolean hookRegistered;

  TableWriter(IpcClient client, Schema schema, DictionaryProvider schemaDictionaries) {
    this.client = client;
    this.schema = schema;
    this.schemaDictionaries = schemaDictionaries;
  }

  /** Stores a batch with no dictionary-encoded columns. */
  public void append(VectorSchemaRoot batch) {
    append(batch, null);
  }

  /**
   * Stores one batch; its schema must equal the table's. Dictionaries of dictionary-encoded columns
   * come from {@code provider} (an Arrow reader is one).
   */
  public void append(VectorSchemaRoot batch, DictionaryProvider provider) {
    checkOpen();
    if (!batch.getSchema().equals(schema)) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "batch " + batches.size() + " has schema " + batch.getSchema() + ", but the table's is " + schema);
    }
    if (!hookRegistered) {
      Runtime.getRuntime().addShutdownHook(exitHook);
      hookRegistered = true;
    }
    try {
      if (messageSchema == null) {
        messageSchema = FrameCodec.encodeSchema(FrameCodec.toMessageFormat(schema, provider, new LinkedHashSet<>()));
      }
      synchronized (created) {
        checkOpen();
        batches.add(FrameCodec.write(client, batch, provider, dictionaries, created, -1));
      }
      rows += batch.getRowCount();
    } catch (RuntimeException e) {
      abort(e);
      throw e;
    }
  }

  /** Batches appended so far. */
  public int batchCount() {
    return batches.size();
  }

  /** Rows appended so far. */
  public long rowCount() {
    return rows;
  }

  /** Stores the table (which may have no batches) and returns its id. */
  public ObjectId finish() {
    checkOpen();
    try {
      if (messageSchema == null) {
        // No batch. The dictionaries given up front tell the value types of dictionary-encoded
        // columns; without them such columns keep their index type only.
        messageSchema = FrameCodec.encodeSchema(schemaDictionaries != null
            ? FrameCodec.toMessageFormat(schema, schemaDictionaries, new LinkedHashSet<>())
            : stripDictionaries(schema));
      }
      ObjectMeta.Builder meta = ObjectMeta.builder(Table.TYPENAME)
          .field(FrameCodec.SCHEMA, messageSchema)
          .field(ArrowBody.NUM_ROWS, rows)
          .field(Table.NUM_BATCHES, (long) batches.size())
          .field(FrameCodec.NUM_COLUMNS, (long) schema.getFields().size())
          .jsonField(FrameCodec.COLUMNS, JsonText.strings(schema.getFields().stream().map(Field::getName).toList()));
      for (int i = 0; i < batches.size(); i++) {
        meta.member(Table.batchMember(i), batches.get(i));
      }
      ObjectId id;
      synchronized (created) {
        checkOpen();
        id = client.putMeta(meta.build());
        finished = true;
        created.clear();
      }
      unregisterHook();
      return id;
    } catch (RuntimeException e) {
      abort(e);
      throw e;
    }
  }

  private static Schema stripDictionaries(Schema s) {
    return new Schema(s.getFields().stream().map(TableWriter::strip).toList(), s.getCustomMetadata());
  }

  private static Field strip(Field f) {
    return new Field(
        f.getName(),
        new org.apache.arrow.vector.types.pojo.FieldType(f.isNullable(), f.getType(), null, f.getMetadata()),
        f.getChildren().stream().map(TableWriter::strip).toList());
  }

  private void checkOpen() {
    if (finished || closed) {
      throw new IllegalStateException("table writer is " + (finished ? "finished" : "closed"));
    }
  }

  private void abort(Throwable cause) {
    closed = true;
    synchronized (created) {
      FrameCodec.discard(client, created, cause);
    }
    unregisterHook();
  }

  /** The shutdown hook: the JVM is exiting before the table was finished. */
  private void abandonAtExit() {
    synchronized (created) {
      if (finished) {
        return;
      }
      closed = true;
      FrameCodec.discard(client, created, new RuntimeException("JVM exit"));
    }
  }

  private void unregisterHook() {
    if (hookRegistered) {
      hookRegistered = false;
      try {
        Runtime.getRuntime().removeShutdownHook(exitHook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or has run
      }
    }
  }

  /** Deletes what was written unless {@link #finish()} succeeded. */
  @Override
  public void close() {
    if (!finished && !closed) {
      closed = true;
      unregisterHook();
      RuntimeException holder = new RuntimeException("table writer closed before finish");
      synchronized (created) {
        FrameCodec.discard(client, created, holder);
      }
      if (holder.getSuppressed().length > 0) {
        throw new VineyardException(ErrorCode.INTERNAL, "could not delete an unfinished table's batches", holder.getSuppressed()[0]);
      }
    }
  }
}
