package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;

/**
 * What an {@link ObjectType} opens an object with: the client, the allocator that Arrow buffers are
 * accounted to, the blobs of the object (got from the daemon in one round trip) and the registry for
 * its members.
 *
 * <p>Blob handles got here belong to the context and are closed when the outermost open returns; an
 * object that keeps viewing a blob keeps it pinned through {@link Blob#toArrowBuf}.
 */
public final class ObjectContext implements AutoCloseable {

  private final ObjectTypes types;
  private final IpcClient client;
  private final BufferAllocator allocator;
  private final Map<ObjectId, Blob> blobs = new HashMap<>();
  private final List<Blob> handles = new ArrayList<>();

  ObjectContext(ObjectTypes types, IpcClient client, BufferAllocator allocator) {
    this.types = types;
    this.client = client;
    this.allocator = allocator;
  }

  public IpcClient client() {
    return client;
  }

  public BufferAllocator allocator() {
    return allocator;
  }

  public ObjectTypes types() {
    return types;
  }

  /**
   * Gets every blob under {@code tree} that this context does not hold yet, in one round trip. Opening
   * an object that reads its blobs should call this first.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when part of the tree lives on another
   *     instance (migrate the object first)
   */
  public void fetchBlobs(ObjectMeta tree) {
    Set<ObjectId> wanted = new LinkedHashSet<>();
    collect(tree, wanted);
    if (wanted.isEmpty()) {
      return;
    }
    List<Blob> got = client.getBlobs(wanted);
    handles.addAll(got);
    for (Blob b : got) {
      blobs.put(b.id(), b);
    }
  }

  private void collect(ObjectMeta meta, Set<ObjectId> out) {
    if (meta.isBlob()) {
      if (!blobs.containsKey(meta.id())) {
        requireLocal(meta);
        out.add(meta.id());
      }
      return;
    }
    for (ObjectMeta m : meta.members().values()) {
      collect(m, out);
    }
  }

  /** The open blob of a blob member (fetched now when {@link #fetchBlobs} did not). */
  public Blob blob(ObjectMeta blobMeta) {
    if (!blobMeta.isBlob()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, blobMeta.id() + " is not a blob");
    }
    Blob b = blobs.get(blobMeta.id());
    if (b == null) {
      fetchBlobs(blobMeta);
      b = blobs.get(blobMeta.id());
    }
    return b;
  }

  /** Opens a member object through the registry, as an instance of {@code type}. */
  public <T extends VineyardObject> T open(ObjectMeta member, Class<T> type) {
    return types.open(this, member, type);
  }

  /** Fails unless the object's data lives on this client's instance. */
  public void requireLocal(ObjectMeta meta) {
    if (!meta.isGlobal() && meta.instanceId() != client.instanceId()) {
      throw new VineyardException(
          ErrorCode.NOT_FOUND,
          "object " + meta.id() + " lives on instance " + meta.instanceId() + ", not on this daemon's instance "
              + client.instanceId() + "; migrate it here first (IpcClient.migrate or vineyardctl migrate)");
    }
  }

  /** Closes the blob handles this context got; Arrow buffers made from them stay valid. */
  @Override
  public void close() {
    client.batchReleases(() -> handles.forEach(Blob::close));
    handles.clear();
    blobs.clear();
  }
}
