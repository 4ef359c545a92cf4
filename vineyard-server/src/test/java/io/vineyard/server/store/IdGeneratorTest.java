package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IdGeneratorTest {

  /** 2026-03-01T00:00:00Z, after the generator's epoch. */
  private static final long NOW = 1_772_323_200_000L;

  @Test
  void idsIncreaseStrictly() {
    AtomicLong clock = new AtomicLong(NOW);
    IdGenerator g = new IdGenerator(5, clock::get);
    ObjectId prev = g.nextObjectId();
    for (int i = 0; i < 10_000; i++) {
      if (i % 100 == 0) {
        clock.addAndGet(1);
      }
      ObjectId next = i % 2 == 0 ? g.nextObjectId() : g.nextBlobId();
      assertTrue(prev.sequence() < next.sequence(), prev + " then " + next);
      prev = next;
    }
  }

  @Test
  void idsAreUniqueUnderAFrozenClock() {
    IdGenerator g = new IdGenerator(5, () -> NOW);
    Set<Long> sequences = new HashSet<>();
    Set<ObjectId> ids = new HashSet<>();
    long first = g.nextObjectId().sequence();
    sequences.add(first);
    for (int i = 1; i < 100_000; i++) {
      ObjectId id = i % 3 == 0 ? g.nextBlobId() : g.nextObjectId();
      assertTrue(ids.add(id), "duplicate " + id);
      assertTrue(sequences.add(id.sequence()), "duplicate sequence " + id.sequence());
      assertEquals(first + i, id.sequence(), "a frozen clock makes the sequence count up by one");
    }
  }

  @Test
  void aClockThatGoesBackwardsDoesNotRepeatIds() {
    AtomicLong clock = new AtomicLong(NOW);
    IdGenerator g = new IdGenerator(5, clock::get);
    ObjectId before = g.nextObjectId();
    clock.set(NOW - 60_000);
    ObjectId after = g.nextObjectId();
    assertTrue(after.compareTo(before) > 0, before + " then " + after);
    assertEquals(before.sequence() + 1, after.sequence());
  }

  @Test
  void theSequenceFollowsTheClock() {
    AtomicLong clock = new AtomicLong(NOW);
    IdGenerator g = new IdGenerator(5, clock::get);
    long s1 = g.nextObjectId().sequence();
    assertEquals((NOW - IdGenerator.EPOCH_MILLIS) << 8, s1, "milliseconds since the epoch, times 256");
    clock.addAndGet(10);
    long s2 = g.nextObjectId().sequence();
    assertEquals(s1 + 10 * 256, s2, "after 10 ms the sequence jumps ahead to the clock");
  }

  @Test
  void aRestartedGeneratorMintsGreaterIds() {
    AtomicLong clock = new AtomicLong(NOW);
    IdGenerator before = new IdGenerator(7, clock::get);
    List<ObjectId> old = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) { // 200 ids per millisecond for 10 ms: under the 256 per ms limit
      if (i % 100 == 0 && i > 0) {
        clock.addAndGet(1);
      }
      old.add(before.nextObjectId());
      old.add(before.nextBlobId());
    }
    ObjectId maxOldObject = Collections.max(old.stream().filter(id -> !id.isBlob()).toList());
    ObjectId maxOldBlob = Collections.max(old.stream().filter(ObjectId::isBlob).toList());

    long restartedAt = clock.get() + 3; // restarted a few ms later
    IdGenerator after = new IdGenerator(7, () -> restartedAt);
    for (int i = 0; i < 1_000; i++) {
      ObjectId o = after.nextObjectId();
      ObjectId b = after.nextBlobId();
      assertTrue(o.compareTo(maxOldObject) > 0, o + " must be greater than " + maxOldObject);
      assertTrue(b.compareTo(maxOldBlob) > 0, b + " must be greater than " + maxOldBlob);
      assertFalse(old.contains(o));
      assertFalse(old.contains(b));
    }
  }

  @Test
  void instanceIdAndBlobBitAreEmbedded() {
    for (long instance : new long[] {0, 1, 5, 1234, ObjectId.MAX_INSTANCE_ID}) {
      IdGenerator g = new IdGenerator(instance, () -> NOW);
      ObjectId o = g.nextObjectId();
      ObjectId b = g.nextBlobId();
      assertEquals(instance, o.instanceId());
      assertEquals(instance, b.instanceId());
      assertFalse(o.isBlob());
      assertTrue(b.isBlob());
      assertEquals(o, ObjectId.of(false, instance, o.sequence()));
      assertEquals(b, ObjectId.of(true, instance, b.sequence()));
    }
    assertThrows(IllegalArgumentException.class, () -> new IdGenerator(-1, () -> NOW));
    assertThrows(IllegalArgumentException.class, () -> new IdGenerator(ObjectId.MAX_INSTANCE_ID + 1, () -> NOW));
  }

  @Test
  void aClockBeforeTheEpochStillGivesPositiveUniqueSequences() {
    IdGenerator g = new IdGenerator(1, () -> 0L);
    ObjectId a = g.nextObjectId();
    ObjectId b = g.nextObjectId();
    assertTrue(a.sequence() > 0, "sequence 0 of instance 0 would be the id 0");
    assertEquals(a.sequence() + 1, b.sequence());
  }

  @Test
  void theRealClockConstructorWorks() {
    IdGenerator g = new IdGenerator(3);
    ObjectId a = g.nextObjectId();
    ObjectId b = g.nextObjectId();
    assertEquals(3, a.instanceId());
    assertTrue(b.compareTo(a) > 0);
    long millis = (a.sequence() >> 8) + IdGenerator.EPOCH_MILLIS;
    assertTrue(Math.abs(System.currentTimeMillis() - millis) < 60_000, "the sequence encodes the current time");
  }

  @Test
  void concurrentCallersGetDistinctIds() throws InterruptedException {
    IdGenerator g = new IdGenerator(2, () -> NOW);
    Set<ObjectId> ids = ConcurrentHashMap.newKeySet();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Thread th =
          new Thread(
              () -> {
                for (int i = 0; i < 20_000; i++) {
                  ids.add(g.nextObjectId());
                }
              });
      threads.add(th);
      th.start();
    }
    for (Thread th : threads) {
      th.join();
    }
    assertEquals(80_000, ids.size());
  }
}
