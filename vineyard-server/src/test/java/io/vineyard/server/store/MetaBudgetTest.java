package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.server.memory.MemoryArena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The metadata budget (--meta-memory) counts at least what stored metadata really takes on the
 * heap: with it undercounted 2-3x, a daemon ran out of heap long before the budget refused a put.
 * Measured as the heap the store holds after full collections, against what it counted.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MetaBudgetTest {

  private final List<MemoryArena> arenas = new ArrayList<>();

  @AfterEach
  void closeArenas() {
    arenas.forEach(MemoryArena::close);
  }

  private ObjectStore store() {
    MemoryArena a = MemoryArena.create(Path.of("/dev/shm/vineyard-unit-tests"), 64 << 20, false);
    arenas.add(a);
    return new ObjectStore(3, a, 100, null, RequestLimits.DEFAULT.withMetaMemory(Long.MAX_VALUE / 4));
  }

  private static long blob(ObjectStore s, Session w) {
    long id = s.createBlob(w, 8).id();
    s.seal(w, id, false);
    return id;
  }

  private static long heapUsed() {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }

  /** Fills a fresh store with {@code fill}; fails unless the budget counted at least 90% of the heap it took. */
  private void assertCountsWhatItTakes(String shape, Consumer<ObjectStore> setUp, Consumer<ObjectStore> fill) {
    ObjectStore s = store();
    setUp.accept(s);
    long counted0 = s.countedMetaBytes();
    long before = heapUsed();
    fill.accept(s);
    long taken = heapUsed() - before;
    long counted = s.countedMetaBytes() - counted0;
    System.out.printf("%s: heap %,d bytes, counted %,d (%.2fx)%n", shape, taken, counted, (double) counted / taken);
    assertTrue(counted >= 0.9 * taken, shape + ": counted " + counted + " bytes for " + taken + " taken on the heap");
    assertTrue(counted <= 4.0 * taken, shape + ": counted " + counted + " bytes for only " + taken + " taken on the heap");
    assertTrue(s.stats().objectCount() > 0); // keeps the store reachable until here
  }

  private final List<Long> blobs = new ArrayList<>();

  private Consumer<ObjectStore> blobs(int n) {
    return s -> {
      Session w = s.openSession("w");
      for (int i = 0; i < n; i++) {
        blobs.add(blob(s, w));
      }
    };
  }

  @Test
  void manySmallObjects() {
    assertCountsWhatItTakes("30,000 objects of 3 fields and 1 member", blobs(1000), s -> {
      for (int i = 0; i < 30_000; i++) {
        s.putMeta(ObjectMeta.builder("test::Small").field("i", (long) i).field("name", "chunk-" + i).field("ok", true)
            .member("data", new ObjectId(blobs.get(i % blobs.size()))).build());
      }
    });
  }

  @Test
  void objectsWithManyMembers() {
    assertCountsWhatItTakes("5 objects of 20,000 members", blobs(20_000), s -> {
      for (int k = 0; k < 5; k++) {
        ObjectMeta.Builder b = ObjectMeta.builder("test::Wide");
        for (int i = 0; i < 20_000; i++) {
          b.member("m" + i, new ObjectId(blobs.get(i)));
        }
        s.putMeta(b.build());
      }
    });
  }

  @Test
  void stringsThatAreNotLatin1() {
    // One character past U+00FF and Java keeps the whole string at two bytes a character.
    assertCountsWhatItTakes("8 fields of 1 MiB characters with one U+0100", s -> { }, s -> {
      for (int k = 0; k < 8; k++) {
        s.putMeta(ObjectMeta.builder("test::Text").field("text", "\u0100" + "x".repeat((1 << 20) - 1) + k).build());
      }
    });
  }

  @Test
  void manyFields() {
    assertCountsWhatItTakes("10 objects of 10,000 numeric fields", s -> { }, s -> {
      for (int k = 0; k < 10; k++) {
        ObjectMeta.Builder b = ObjectMeta.builder("test::Fields");
        for (int i = 0; i < 10_000; i++) {
          b.field("f" + i, (long) i * 1_000_003L);
        }
        s.putMeta(b.build());
      }
    });
  }

  @Test
  void names() {
    long[] target = new long[1];
    assertCountsWhatItTakes("30,000 names of 100 characters", s -> target[0] = s.putMeta(ObjectMeta.builder("test::Named").build()), s -> {
      for (int i = 0; i < 30_000; i++) {
        s.putName(("name-" + i + "-").repeat(20).substring(0, 100), target[0]);
      }
    });
  }

  /** Names were outside the budget: 174,000 names of 4 KiB filled the heap and wedged the daemon. */
  @Test
  void namesAreRefusedWhenTheBudgetIsFullAndGiveTheirShareBack() {
    MemoryArena a = MemoryArena.create(Path.of("/dev/shm/vineyard-unit-tests"), 1 << 20, false);
    arenas.add(a);
    ObjectStore s = new ObjectStore(3, a, 100, null, RequestLimits.DEFAULT.withMetaMemory(4 << 20));
    long id = s.putMeta(ObjectMeta.builder("test::Named").build());
    int bound = 0;
    io.vineyard.VineyardException full = null;
    for (; bound < 10_000 && full == null; bound++) {
      try {
        s.putName("n" + bound + "x".repeat(4000), id);
      } catch (io.vineyard.VineyardException e) {
        full = e;
      }
    }
    assertTrue(full != null && full.code() == io.vineyard.ErrorCode.OUT_OF_MEMORY, "refused: " + full);
    assertTrue(full.getMessage().contains("--meta-memory"), full.getMessage());
    assertTrue(bound > 500 && bound < 1100, bound + " names of 4 KiB in 4 MiB");
    long counted = s.countedMetaBytes();
    s.dropName("n0" + "x".repeat(4000));
    assertTrue(s.countedMetaBytes() < counted, "a dropped name gives its share back");
    s.putName("n0" + "x".repeat(4000), id);
    s.delete(java.util.List.of(id), true, false);
    assertTrue(s.countedMetaBytes() == 0, "deleting the object drops its names and their share: " + s.countedMetaBytes());
  }
}
