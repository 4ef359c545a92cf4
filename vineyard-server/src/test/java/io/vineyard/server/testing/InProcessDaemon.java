package io.vineyard.server.testing;

import io.vineyard.InstanceInfo;
import io.vineyard.server.cluster.Cluster;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.service.DaemonService;
import io.vineyard.server.store.ObjectStore;
import java.nio.file.Path;
import java.time.Instant;

/**
 * A daemon's core in this JVM, without sockets: real shared memory, a store spilling to a {@link
 * GatedSpiller}, a {@link Cluster} over a {@link GatedMetadata}, and the {@link DaemonService} over
 * them. Closing opens every gate first, so that nothing waits on a test that already failed.
 */
public final class InProcessDaemon implements AutoCloseable {

  public static final long INSTANCE = 7;
  public static final int LIST_LIMIT = 100;

  public final GatedSpiller spiller = new GatedSpiller();
  public final GatedMetadata backend = new GatedMetadata();
  public final MemoryArena arena;
  public final Cluster cluster;
  public final ObjectStore store;
  public final DaemonService service;

  /** Spills above {@code upper} of {@code capacity} bytes, down to {@code lower}. */
  public InProcessDaemon(long capacity, double upper, double lower) {
    arena = MemoryArena.create(Path.of("/dev/shm/vineyard-unit-tests"), capacity, false);
    ObjectStore.Tiering tiering = new ObjectStore.Tiering(spiller, upper, lower);
    cluster = new Cluster(backend, new InstanceInfo(0, "node-1", "/tmp/v.sock", "", 0, 0, Instant.EPOCH, "test"),
        "node-1:9600", arena, INSTANCE, id -> new ObjectStore(id, arena, LIST_LIMIT, tiering));
    store = cluster.store();
    service = new DaemonService(store, cluster, "test", LIST_LIMIT);
  }

  @Override
  public void close() {
    spiller.writes.open();
    spiller.reads.open();
    backend.gate.open();
    try {
      service.close();
    } finally {
      try {
        cluster.close();
      } finally {
        arena.close();
      }
    }
  }
}
