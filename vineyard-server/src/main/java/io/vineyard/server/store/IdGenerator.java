package io.vineyard.server.store;

import io.vineyard.ObjectId;
import java.util.function.LongSupplier;

/**
 * Mints object ids for one instance without coordination. The 48-bit sequence starts from the clock
 * (milliseconds since 2025-01-01, times 256) and then counts up, so ids stay unique across restarts
 * of the same instance unless it minted more than 256 ids per millisecond for its whole previous
 * life; it wraps after about 34 years.
 */
public final class IdGenerator {

  static final long EPOCH_MILLIS = ObjectId.EPOCH_MILLIS; // 2025-01-01T00:00:00Z
  private static final int SHIFT = ObjectId.SEQUENCE_MILLIS_SHIFT;

  private final long instanceId;
  private final LongSupplier clock;
  private long last;

  public IdGenerator(long instanceId) {
    this(instanceId, System::currentTimeMillis);
  }

  IdGenerator(long instanceId, LongSupplier clock) {
    if (instanceId < 0 || instanceId > ObjectId.MAX_INSTANCE_ID) {
      throw new IllegalArgumentException("instance id out of range: " + instanceId);
    }
    this.instanceId = instanceId;
    this.clock = clock;
  }

  private synchronized long nextSequence() {
    long fromClock = Math.max(0, clock.getAsLong() - EPOCH_MILLIS) << SHIFT;
    last = Math.max(last + 1, fromClock);
    return last;
  }

  public ObjectId nextBlobId() {
    return ObjectId.of(true, instanceId, nextSequence());
  }

  public ObjectId nextObjectId() {
    return ObjectId.of(false, instanceId, nextSequence());
  }
}
