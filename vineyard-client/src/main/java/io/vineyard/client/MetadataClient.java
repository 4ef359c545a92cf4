package io.vineyard.client;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import java.util.List;

/**
 * The read-only metadata calls that both the node-local {@link IpcClient} and the remote {@link
 * RpcClient} serve: what exists, where it lives, and which daemons form the cluster.
 */
public interface MetadataClient extends AutoCloseable {

  /**
   * The full metadata tree of an object held by the daemon or persisted by any instance.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when there is no such object
   */
  ObjectMeta getMeta(ObjectId id);

  /**
   * The object bound to {@code name} on the daemon, or (for persisted objects) on any instance.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when unbound
   */
  ObjectId getName(String name);

  /**
   * Lists objects whose typename matches a glob ({@code *}, {@code ?}; {@code null} or empty for
   * all).
   *
   * @param limit at most this many; 0 for the daemon's default
   * @param global the persisted objects of every instance instead of the daemon's own objects
   */
  Listing listObjects(String typenamePattern, int limit, boolean global);

  /** The daemons of the cluster, by instance id; only the daemon itself with local metadata. */
  List<InstanceInfo> instances();

  /**
   * Where the object, each of its members and each blob under it lives.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when there is no such object
   */
  List<Placement> locate(ObjectId id);

  /** The daemon's counters. */
  StoreStats stats();

  @Override
  void close();
}
