package io.vineyard.server.testing;

import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.server.cluster.LocalMetadata;
import io.vineyard.server.cluster.MetadataBackend;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * The local backend behind a {@link Gate}: every call that would reach etcd (all but register,
 * available and describe) waits while the gate is closed, and lookups are counted, so that a test
 * sees whether (and when) a request went to the cluster.
 */
public final class GatedMetadata implements MetadataBackend {

  public final Gate gate = new Gate();
  public final AtomicInteger lookups = new AtomicInteger();
  public final AtomicInteger calls = new AtomicInteger();
  private final LocalMetadata local = new LocalMetadata();

  private void reach() {
    calls.incrementAndGet();
    gate.pass();
  }

  @Override
  public long register(long requestedId, Registrant daemon) {
    return local.register(requestedId, daemon);
  }

  @Override
  public List<InstanceInfo> instances() {
    reach();
    return local.instances();
  }

  @Override
  public void publish(List<ObjectMeta> objects) {
    reach();
    local.publish(objects);
  }

  @Override
  public void unpublish(List<ObjectId> ids) {
    reach();
    local.unpublish(ids);
  }

  @Override
  public Optional<ObjectMeta> lookup(ObjectId id) {
    lookups.incrementAndGet();
    reach();
    return local.lookup(id);
  }

  @Override
  public Page list(Predicate<String> typename, int limit) {
    reach();
    return local.list(typename, limit);
  }

  @Override
  public void putName(String name, ObjectId id) {
    reach();
    local.putName(name, id);
  }

  @Override
  public Optional<ObjectId> getName(String name) {
    reach();
    return local.getName(name);
  }

  @Override
  public boolean dropName(String name) {
    reach();
    return local.dropName(name);
  }

  @Override
  public boolean dropName(String name, ObjectId id) {
    reach();
    return local.dropName(name, id);
  }

  @Override
  public boolean available() {
    return true;
  }

  @Override
  public String describe() {
    return "gated local";
  }

  @Override
  public void close() {
    local.close();
  }
}
