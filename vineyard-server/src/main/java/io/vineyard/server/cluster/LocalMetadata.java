package io.vineyard.server.cluster;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.proto.ipc.InstanceInfo;
import io.vineyard.proto.ipc.ObjectMeta;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Metadata kept in this daemon only: the default, for a single node. The cluster is this one
 * instance; persisted objects and their names are visible to its clients and its gRPC port.
 */
public final class LocalMetadata implements MetadataBackend {

  private final TreeMap<Long, ObjectMeta> objects = new TreeMap<>(Long::compareUnsigned);
  private final Map<String, Long> names = new TreeMap<>();
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
    metas.forEach(m -> objects.put(m.getId(), m));
  }

  @Override
  public synchronized void unpublish(List<Long> ids) {
    ids.forEach(objects::remove);
  }

  @Override
  public synchronized Optional<ObjectMeta> lookup(long id) {
    return Optional.ofNullable(objects.get(id));
  }

  @Override
  public synchronized Page list(Predicate<String> typename, int limit) {
    List<ObjectMeta> out = new ArrayList<>();
    boolean truncated = false;
    for (ObjectMeta m : objects.values()) {
      if (typename.test(m.getTypename())) {
        if (out.size() == limit) {
          truncated = true;
          break;
        }
        out.add(m);
      }
    }
    Map<Long, List<String>> bound = new HashMap<>();
    names.forEach((n, id) -> bound.computeIfAbsent(id, k -> new ArrayList<>()).add(n));
    return new Page(out, bound, truncated);
  }

  @Override
  public synchronized void putName(String name, long id) {
    names.put(name, id);
  }

  @Override
  public synchronized OptionalLong getName(String name) {
    Long id = names.get(name);
    return id == null ? OptionalLong.empty() : OptionalLong.of(id);
  }

  @Override
  public synchronized boolean dropName(String name) {
    return names.remove(name) != null;
  }

  @Override
  public synchronized boolean dropName(String name, long id) {
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
