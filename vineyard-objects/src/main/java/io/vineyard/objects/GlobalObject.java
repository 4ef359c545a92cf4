package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * What the global collections share: an ordered list of chunks, each an object on some instance of
 * the cluster. Opening a global object reads metadata only; {@link #openChunk} opens one chunk,
 * copying it here first (with migrate) when it lives on another instance.
 *
 * <p>Metadata: {@code num_chunks} and members {@code chunk_0}, {@code chunk_1}, ... Every chunk is
 * persisted, so every instance of the cluster sees the whole list.
 *
 * @param <C> the type of a chunk
 */
public abstract class GlobalObject<C extends VineyardObject> implements VineyardObject {

  static final String NUM_CHUNKS = "num_chunks";

  /**
   * One chunk: its place in the order, its id, and the instance that holds it.
   *
   * @param index its position among the chunks
   * @param id its id
   * @param instanceId the instance that holds it
   * @param meta its metadata
   */
  public record Chunk(int index, ObjectId id, long instanceId, ObjectMeta meta) {}

  private final ObjectMeta meta;
  private final IpcClient client;
  private final BufferAllocator allocator;
  private final ObjectTypes types;
  private final Class<C> chunkClass;
  private final List<Chunk> chunks;

  GlobalObject(ObjectContext context, ObjectMeta meta, Class<C> chunkClass) {
    this.meta = meta;
    this.client = context.client();
    this.allocator = context.allocator();
    this.types = context.types();
    this.chunkClass = chunkClass;
    long n = meta.getLong(NUM_CHUNKS);
    List<Chunk> list = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ObjectMeta c = meta.members().get(chunkMember(i));
      if (c == null) {
        throw ArrowBody.malformed(meta, "chunk " + i + " is missing");
      }
      list.add(new Chunk(i, c.id(), c.instanceId(), c));
    }
    this.chunks = Collections.unmodifiableList(list);
  }

  static String chunkMember(int i) {
    return "chunk_" + i;
  }

  /**
   * Stores a global object over {@code chunks}. Chunks on this client's instance are persisted first
   * (chunks elsewhere must be persisted already, or they would not be found); the daemon persists the
   * global object itself.
   */
  static ObjectId create(IpcClient client, List<ObjectMeta> chunkMetas, ObjectMeta.Builder fields) {
    List<ObjectId> chunks = chunkMetas.stream().map(ObjectMeta::id).toList();
    for (ObjectMeta m : chunkMetas) {
      if (m.instanceId() == client.instanceId()) {
        client.persist(m.id());
      }
    }
    fields.global(true).field(NUM_CHUNKS, (long) chunks.size());
    for (int i = 0; i < chunks.size(); i++) {
      fields.member(chunkMember(i), chunks.get(i));
    }
    return client.putMeta(fields.build());
  }

  /** Reads each chunk's metadata (through the cluster for chunks held elsewhere), checking the type. */
  static List<ObjectMeta> chunkMetas(IpcClient client, List<ObjectId> chunks, List<String> typenames) {
    if (chunks.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a global object needs at least one chunk");
    }
    List<ObjectMeta> out = new ArrayList<>();
    for (ObjectId id : chunks) {
      ObjectMeta m = client.getMeta(id);
      if (!typenames.contains(m.typename())) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "chunk " + id + " is a " + m.typename() + ", not one of " + typenames);
      }
      out.add(m);
    }
    return out;
  }

  @Override
  public ObjectMeta meta() {
    return meta;
  }

  /** The chunks in order. */
  public List<Chunk> chunks() {
    return chunks;
  }

  /** The chunks held by the instance this client is connected to. */
  public List<Chunk> localChunks() {
    return chunks.stream().filter(c -> c.instanceId() == client.instanceId()).toList();
  }

  /** Where every chunk and blob of this object lives (instance, host, gRPC endpoint). */
  public List<Placement> locations() {
    return client.locate(meta.id());
  }

  /**
   * Opens chunk {@code index}. A chunk held by another instance is first copied to this client's
   * daemon with migrate (a repeat reuses the copy), so this works from any instance of the cluster.
   */
  public C openChunk(int index) {
    Chunk c = chunks.get(index);
    ObjectId local = c.instanceId() == client.instanceId() ? c.id() : client.migrate(c.id());
    return types.open(client, local, chunkClass, allocator);
  }

  /** Nothing to release: chunks opened with {@link #openChunk} are closed by the caller. */
  @Override
  public void close() {}
}
