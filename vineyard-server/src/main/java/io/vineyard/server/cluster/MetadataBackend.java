package io.vineyard.server.cluster;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Where the cluster's shared metadata lives: the registered instances, the persisted objects (their
 * expanded metadata trees, never blob bytes) and the names bound to them. {@link LocalMetadata}
 * keeps it in this daemon (one node needs nothing else); {@link EtcdMetadata} puts it in etcd so that
 * every daemon sees it.
 *
 * <p>The daemon owns what it publishes: the backend is a view that the daemon can rebuild, so when
 * the backend loses it (an etcd wiped and restarted) the daemon publishes it again from {@link
 * Snapshot}. Calls block (bounded by the backend's timeout) and must not run on an I/O event loop;
 * while the backend is unreachable they fail at once with {@link ErrorCode#UNAVAILABLE}.
 *
 * <p>The backend speaks the domain types ({@link ObjectMeta}, {@link InstanceInfo}, {@link
 * ObjectId}), never the IPC messages; how it stores them is its own business ({@link EtcdMetadata}
 * uses {@link io.vineyard.server.records.RecordCodec}). A stored value it cannot read (a newer
 * format, a corrupt body) is skipped with a warning by listings and refused with a clear error by
 * lookups; it never fails a whole listing.
 */
public interface MetadataBackend extends AutoCloseable {

  /** What this daemon has published, to publish again after the backend lost it. */
  record Snapshot(InstanceInfo self, List<ObjectMeta> objects, Map<String, ObjectId> names) {}

  /** The daemon as the backend sees it. */
  interface Registrant {
    /** Its instance record with current memory figures; cheap, takes no lock that I/O may hold. */
    InstanceInfo self();

    /** Everything it has published, to publish again. */
    Snapshot snapshot();
  }

  /**
   * Registers this daemon and keeps it registered until closed.
   *
   * @param requestedId the instance id to claim, or -1 to let the backend allocate one
   * @param daemon asked for its instance record at each heartbeat, and for everything it published
   *     whenever the registration must be renewed
   * @return the instance id this daemon holds
   * @throws VineyardException {@link ErrorCode#UNAVAILABLE} when the backend cannot be reached,
   *     {@link ErrorCode#ALREADY_EXISTS} when the requested id is taken
   */
  long register(long requestedId, Registrant daemon);

  /** The registered instances, by id. */
  List<InstanceInfo> instances();

  /** Publishes (or republishes) expanded metadata trees of objects this daemon owns; each has an id. */
  void publish(List<ObjectMeta> objects);

  /** Removes objects this daemon published; ids not published are ignored. */
  void unpublish(List<ObjectId> ids);

  /**
   * A persisted object's expanded metadata tree, published by any instance.
   *
   * @throws VineyardException {@link ErrorCode#IO_ERROR} when the backend holds it in a form this
   *     daemon cannot read (the message says why)
   */
  Optional<ObjectMeta> lookup(ObjectId id);

  /**
   * A page of persisted objects of every instance, the cluster-wide names bound to them (sorted), and
   * whether more objects match.
   */
  record Page(List<ObjectMeta> objects, Map<ObjectId, List<String>> names, boolean truncated) {}

  /**
   * Persisted objects whose typename matches, up to {@code limit}, ordered by owner and id; objects
   * stored in a form this daemon cannot read are left out (and logged).
   */
  Page list(Predicate<String> typename, int limit);

  /** Binds a cluster-wide name to a persisted object. */
  void putName(String name, ObjectId id);

  /**
   * The object a cluster-wide name is bound to.
   *
   * @throws VineyardException {@link ErrorCode#IO_ERROR} when the binding cannot be read
   */
  Optional<ObjectId> getName(String name);

  /** Drops a cluster-wide name; returns whether it was bound. */
  boolean dropName(String name);

  /** Drops a cluster-wide name only while it is still bound to {@code id}; returns whether it was. */
  boolean dropName(String name, ObjectId id);

  /** Whether calls can be expected to succeed now. */
  boolean available();

  /** {@code local} or the etcd endpoints and prefix, for messages. */
  String describe();

  @Override
  void close();
}
