package io.vineyard.server.testing;

import io.vineyard.ObjectId;
import io.vineyard.server.store.BlobSpiller;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A spiller that keeps spilled bytes in a map and can be made slow: writes wait at {@link #writes},
 * reads at {@link #reads}, outside any lock of the store, as real disk I/O would. Thread-safe.
 */
public final class GatedSpiller implements BlobSpiller {

  public final Gate writes = new Gate();
  public final Gate reads = new Gate();
  /** The spill "files", by blob id. */
  public final Map<Long, byte[]> files = new ConcurrentHashMap<>();
  /** How many times each blob's file was deleted. */
  public final Map<Long, Integer> deletes = new ConcurrentHashMap<>();
  public final AtomicInteger writeCount = new AtomicInteger();
  public final AtomicInteger readCount = new AtomicInteger();
  public volatile boolean failReads;

  @Override
  public void write(long id, MemorySegment bytes) throws IOException {
    writes.pass();
    if (files.putIfAbsent(id, bytes.toArray(ValueLayout.JAVA_BYTE)) != null) {
      throw new AssertionError("spilled twice without a reload: " + new ObjectId(id));
    }
    writeCount.incrementAndGet();
  }

  @Override
  public void read(long id, MemorySegment target) throws IOException {
    reads.pass();
    if (failReads) {
      throw new IOException("Input/output error");
    }
    byte[] b = files.get(id);
    if (b == null) {
      throw new IOException("no spill file for " + new ObjectId(id));
    }
    if (b.length != target.byteSize()) {
      throw new AssertionError("reload target of " + target.byteSize() + " bytes for a blob of " + b.length);
    }
    MemorySegment.copy(b, 0, target, ValueLayout.JAVA_BYTE, 0, b.length);
    readCount.incrementAndGet();
  }

  @Override
  public void delete(long id) {
    if (files.remove(id) != null) {
      deletes.merge(id, 1, Integer::sum);
    }
  }

  @Override
  public String describe() {
    return "a test map";
  }
}
