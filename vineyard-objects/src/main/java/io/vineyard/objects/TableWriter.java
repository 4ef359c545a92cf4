package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import io.vineyard.objects.internal.JsonText;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a {@link Table} batch by batch: each {@link #append} stores one record batch as a
 * {@link DataFrame}, so a table can be far larger than any one batch and than the Java heap.
 * {@link #finish()} stores the table itself and returns its id; closing a writer that did not
 * finish deletes what it wrote.
 *
 * <p>Threads: one thread at a time may use a writer ({@link #append}, {@link #finish()} and {@link
 * #close()} are serialized by a lock, so a call from another thread waits rather than corrupting
 * it, but the order of batches is then whatever the threads make it; {@link #batchCount()} and
 * {@link #rowCount()} are not synchronized). {@code close()} is idempotent. The JVM-exit hook below
 * takes the same lock. The {@link io.vineyard.client.IpcClient} a writer uses may be shared with
 * other threads and other writers.
 *
 * <p>A dictionary that does not change between batches is stored once and shared by them.
 *
 * <p>If the JVM exits before {@link #finish()} (Ctrl-C, SIGTERM, {@code System.exit}), a shutdown
 * hook deletes what the writer stored, over a connection of its own (the writer's client may be
 * closed by then). It waits at most {@value #EXIT_WAIT_SECONDS} s for a batch being written, and as
 * long for the daemon. A process killed outright (SIGKILL, the OOM killer) leaves its sealed batches
 * behind; they have no name and no parent, and {@code vineyardctl ls} shows them.
 */
public final class TableWriter implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(TableWriter.class);
  static final int EXIT_WAIT_SECONDS = 10;

  private final IpcClient client;
  private final Schema schema;
  private final DictionaryProvider schemaDictionaries;
  private final FrameCodec.DictionaryCache dictionaries = new FrameCodec.DictionaryCache();
  /** Every object and blob stored so far; guarded by {@link #lock}. */
  private final List<ObjectId> created = new ArrayList<>();
  private final List<ObjectId> batches = new ArrayList<>();
  /** Held while talking to the daemon, so that the exit hook never deletes under a write. */
  private final ReentrantLock lock = new ReentrantLock();
  private String messageSchema;
  private long rows;
  private volatile boolean finished;
  private volatile boolean closed;
  /** Set by the exit hook once it has deleted what was stored. */
  private volatile boolean abandoned;
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
    lock.lock();
    try {
      checkOpen();
      if (messageSchema == null) {
        messageSchema = FrameCodec.encodeSchema(FrameCodec.toMessageFormat(schema, provider, new LinkedHashSet<>()));
      }
      batches.add(FrameCodec.write(client, batch, provider, dictionaries, created, -1));
      rows += batch.getRowCount();
    } catch (RuntimeException e) {
      abort(e);
      throw e;
    } finally {
      lock.unlock();
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
    lock.lock();
    try {
      checkOpen();
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
      ObjectId id = client.putMeta(meta.build());
      finished = true;
      created.clear();
      unregisterHook();
      return id;
    } catch (RuntimeException e) {
      abort(e);
      throw e;
    } finally {
      lock.unlock();
    }
  }

  /** The schema with dictionary encodings dropped (such columns keep their index type). */
  static Schema stripDictionaries(Schema s) {
    return new Schema(s.getFields().stream().map(TableWriter::strip).toList(), s.getCustomMetadata());
  }

  private static Field strip(Field f) {
    return new Field(
        f.getName(),
        new FieldType(f.isNullable(), f.getType(), null, f.getMetadata()),
        f.getChildren().stream().map(TableWriter::strip).toList());
  }

  private void checkOpen() {
    if (abandoned) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "the JVM is exiting: the unfinished table was deleted");
    }
    if (finished || closed) {
      throw new VineyardException(ErrorCode.ILLEGAL_STATE, "table writer is " + (finished ? "finished" : "closed"));
    }
  }

  /** After a failure (called with the lock held): deletes what was stored. */
  private void abort(Throwable cause) {
    if (abandoned || finished) {
      return;
    }
    closed = true;
    FrameCodec.discard(client, created, cause);
    unregisterHook();
  }

  /** The shutdown hook: the JVM is exiting before the table was finished. */
  private void abandonAtExit() {
    boolean locked;
    try {
      locked = lock.tryLock(EXIT_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      locked = false;
    }
    if (!locked) {
      LOG.warn("exiting while a batch is still being written: the unfinished table's batches stay in the store");
      return;
    }
    try {
      if (finished || created.isEmpty()) {
        return;
      }
      List<ObjectId> ids = List.copyOf(created);
      try (IpcClient c = IpcClient.connect(client.socket(), Duration.ofSeconds(EXIT_WAIT_SECONDS), "table-writer-exit")) {
        c.delete(ids, true, false);
        created.clear();
      } catch (RuntimeException e) {
        LOG.warn("exiting: could not delete the {} objects of an unfinished table: {}", ids.size(), e.getMessage());
      }
      abandoned = true;
    } finally {
      lock.unlock();
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
    if (finished || closed || abandoned) {
      return;
    }
    closed = true;
    unregisterHook();
    RuntimeException holder = new RuntimeException("table writer closed before finish");
    lock.lock();
    try {
      if (abandoned) {
        return;
      }
      FrameCodec.discard(client, created, holder);
    } finally {
      lock.unlock();
    }
    if (holder.getSuppressed().length > 0) {
      throw new VineyardException(ErrorCode.INTERNAL, "could not delete an unfinished table's batches", holder.getSuppressed()[0]);
    }
  }
}
