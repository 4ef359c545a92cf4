package io.vineyard.server.cluster;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Metadata kept in this daemon only: the default, for a single node. The cluster is this one
 * instance; persisted objects and their names are visible to its clients and its gRPC port.
 */
public final class LocalMetadata implements MetadataBackend {

  private final TreeMap<ObjectId, ObjectMeta> objects = new TreeMap<>();
  private final Map<String, ObjectId> names = new TreeMap<>();
  private volatile Registrant self;

  @Override
  public long register(long requestedId, Registrant daemon) {
    this.self = daemon;
    return Math.max(0, requestedId);
  }

  @Override
  public List<InstanceInfo> instances() {
    Registrant s = self;
    if (s == null) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "this daemon is not registered yet");
    }
    return List.of(s.self());
  }

  @Override
  public synchronized void publish(List<ObjectMeta> metas) {
    metas.forEach(m -> objects.put(m.id(), m));
  }

  @Override
  public synchronized void unpublish(List<ObjectId> ids) {
    ids.forEach(objects::remove);
  }

  @Override
  public synchronized Optional<ObjectMeta> lookup(ObjectId id) {
    return Optional.ofNullable(objects.get(id));
  }

  @Override
  public synchronized Page list(Predicate<String> typename, int limit) {
    List<ObjectMeta> out = new ArrayList<>();
    boolean truncated = false;
    for (ObjectMeta m : objects.values()) {
      if (typename.test(m.typename())) {
        if (out.size() == limit) {
          truncated = true;
          break;
        }
        out.add(m);
      }
    }
    Map<ObjectId, List<String>> bound = new HashMap<>();
    names.forEach((n, id) -> bound.computeIfAbsent(id, k -> new ArrayList<>()).add(n));
    return new Page(out, bound, truncated);
  }

  @Override
  public synchronized void putName(String name, ObjectId id) {
    names.put(name, id);
  }

  @Override
  public synchronized Optional<ObjectId> getName(String name) {
    return Optional.ofNullable(names.get(name));
  }

  @Override
  public synchronized boolean dropName(String name) {
    return names.remove(name) != null;
  }

  @Override
  public synchronized boolean dropName(String name, ObjectId id) {
    return names.remove(name, id);
  }

  @Override
  public boolean available() {
    return true;
  }

  @Override
  public String describe() {
    return "local";
  }

  @Override
  public void close() {}
}
