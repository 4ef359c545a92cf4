package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import java.util.List;

/**
 * A global DataFrame: a table split into chunks ({@link DataFrame}s or {@link Table}s of one schema)
 * that live on different instances, typically one per node of a distributed job. Each worker stores
 * and persists its chunk; one of them creates the global object from all the chunk ids; readers
 * anywhere list the chunks with their instances and open the ones they need.
 *
 * <p>Metadata besides the chunks: {@code schema} (of the first chunk) and {@code num_rows} (the sum).
 */
public final class GlobalDataFrame extends GlobalObject<VineyardObject> {

  public static final String TYPENAME = "vineyard::GlobalDataFrame";

  static final ObjectType<GlobalDataFrame> TYPE = ObjectType.of(TYPENAME, GlobalDataFrame.class, GlobalDataFrame::new);

  private GlobalDataFrame(ObjectContext context, ObjectMeta meta) {
    super(context, meta, VineyardObject.class);
  }

  /**
   * Stores a global DataFrame over chunks that are DataFrames or Tables of one schema. Chunks held by
   * other instances must have been persisted there ({@link IpcClient#persist}); chunks on this
   * client's instance are persisted now.
   */
  public static ObjectId create(IpcClient client, List<ObjectId> chunks) {
    List<ObjectMeta> metas = chunkMetas(client, chunks, List.of(DataFrame.TYPENAME, Table.TYPENAME));
    String schema = metas.getFirst().getString(FrameCodec.SCHEMA);
    long rows = 0;
    for (ObjectMeta m : metas) {
      if (!m.getString(FrameCodec.SCHEMA).equals(schema)) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "chunk " + m.id() + " has another schema than chunk " + metas.getFirst().id());
      }
      rows += m.getLong(ArrowBody.NUM_ROWS);
    }
    ObjectMeta.Builder b = ObjectMeta.builder(TYPENAME)
        .field(FrameCodec.SCHEMA, schema)
        .field(ArrowBody.NUM_ROWS, rows)
        .field(FrameCodec.COLUMNS, metas.getFirst().getString(FrameCodec.COLUMNS));
    return create(client, metas, b);
  }

  public static GlobalDataFrame open(IpcClient client, ObjectId id) {
    return ObjectTypes.defaults().open(client, id, GlobalDataFrame.class);
  }

  /** Rows in all chunks. */
  public long rowCount() {
    return meta().getLong(ArrowBody.NUM_ROWS);
  }

  /** Rows in one chunk, from metadata. */
  public long rowCount(int chunk) {
    return chunks().get(chunk).meta().getLong(ArrowBody.NUM_ROWS);
  }

  @Override
  public String toString() {
    return "GlobalDataFrame{" + id() + ", " + rowCount() + " rows in " + chunks().size() + " chunks}";
  }
}
