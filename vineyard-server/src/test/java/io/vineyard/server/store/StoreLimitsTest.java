package io.vineyard.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Listing;
import io.vineyard.internal.Protos;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.records.RecordCodec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/** What one request may cost the object store: depth, sizes, counts, its metadata budget; deletes at any depth. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StoreLimitsTest {

  private final List<MemoryArena> arenas = new ArrayList<>();

  private ObjectStore store(RequestLimits limits) {
    MemoryArena a = MemoryArena.create(Path.of("/dev/shm/vineyard-unit-tests"), 1 << 20, false);
    arenas.add(a);
    return new ObjectStore(3, a, 100, null, limits);
  }

  @AfterEach
  void closeArenas() {
    arenas.forEach(MemoryArena::close);
  }

  private static VineyardException assertCode(ErrorCode code, Executable e) {
    VineyardException ex = assertThrows(VineyardException.class, e);
    assertEquals(code, ex.code(), ex.getMessage());
    return ex;
  }

  private static long blob(ObjectStore s) {
    Session w = s.openSession("w");
    long id = s.createBlob(w, 8).id();
    s.seal(w, id, false);
    return id;
  }

  /** A chain: a blob, then {@code levels - 1} objects each holding the previous one; returns them bottom up. */
  private static List<Long> chain(ObjectStore s, int levels) {
    List<Long> ids = new ArrayList<>(List.of(blob(s)));
    for (int i = 1; i < levels; i++) {
      // nbytes given: otherwise each put sums the blobs of the whole tree below it
      ids.add(s.putMeta(ObjectMeta.builder("t::Level").field("i", (long) i).nbytes(8).member("down", new ObjectId(ids.getLast())).build()));
    }
    return ids;
  }

  /**
   * A few small objects whose members all name the object one level down spell out 150^3 objects
   * in an answer: get_meta ran the daemon out of heap. Now the put of such a tree is refused, and
   * an expanded tree shares what repeats.
   */
  @Test
  void aTreeThatSpellsOutTooManyObjectsIsRefusedAtPut() {
    ObjectStore s = store(RequestLimits.DEFAULT);
    long below = blob(s);
    List<Long> levels = new ArrayList<>();
    for (int level = 0; level < 2; level++) {
      ObjectMeta.Builder b = ObjectMeta.builder("t::Wide");
      for (int i = 0; i < 150; i++) {
        b.member("m" + i, new ObjectId(below));
      }
      below = s.putMeta(b.build());
      levels.add(below);
    }
    ObjectMeta.Builder top = ObjectMeta.builder("t::Wide");
    for (int i = 0; i < 150; i++) {
      top.member("m" + i, new ObjectId(below));
    }
    long count = s.stats().objectCount();
    VineyardException e = assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(top.build()));
    assertTrue(e.getMessage().contains("3397651 objects") && e.getMessage().contains("--max-tree-objects"), e.getMessage());
    assertEquals(count, s.stats().objectCount(), "nothing stored");
    // The level below (1 + 150 * 151 = 22,651 objects spelt out) is read back sharing what repeats.
    ObjectMeta tree = s.getMeta(levels.getLast());
    assertEquals(150, tree.members().size());
    ObjectMeta first = tree.members().get("m0");
    tree.members().values().forEach(m -> assertTrue(m == first, "one expansion of a shared member"));
    assertEquals(22_651, ObjectStore.treeObjects(tree, Long.MAX_VALUE));

    ObjectStore tight = store(RequestLimits.DEFAULT.withMaxTreeObjects(3));
    long b1 = blob(tight);
    long pair = tight.putMeta(ObjectMeta.builder("t::Pair").member("a", new ObjectId(b1)).member("b", new ObjectId(b1)).build());
    assertCode(ErrorCode.INVALID_ARGUMENT,
        () -> tight.putMeta(ObjectMeta.builder("t::Top").member("p", new ObjectId(pair)).build()));
  }

  /**
   * Few objects but long, distinct typenames under a long pattern: half a second of matching ran on
   * an event loop. With a budget the listing says it would cost more (null) instead of matching.
   */
  @Test
  void aListingCostlierThanItsBudgetSaysSoInsteadOfMatching() {
    ObjectStore s = store(RequestLimits.DEFAULT);
    for (int i = 0; i < 300; i++) {
      s.putMeta(ObjectMeta.builder("t::" + i + "b".repeat(4000)).build());
    }
    String pattern = "*a".repeat(512);
    assertEquals(null, s.list(pattern, 0, false, 256 * 1024));
    assertTrue(s.list(pattern, 0, false, Long.MAX_VALUE).objects().isEmpty());
    // One typename, matched once, fits a small budget: the common listing stays where it is.
    ObjectStore same = store(RequestLimits.DEFAULT);
    for (int i = 0; i < 300; i++) {
      same.putMeta(ObjectMeta.builder("t::Same").field("i", (long) i).build());
    }
    Listing cheap = same.list("t::S*", 5, false, 100);
    assertEquals(5, cheap.objects().size());
    assertTrue(cheap.truncated());
  }

  @Test
  void theDepthLimitIsEnforcedAtPut() {
    ObjectStore s = store(RequestLimits.DEFAULT);
    List<Long> ids = chain(s, 64);
    long before = s.stats().objectCount();
    VineyardException e = assertCode(ErrorCode.INVALID_ARGUMENT,
        () -> s.putMeta(ObjectMeta.builder("t::Top").member("down", new ObjectId(ids.getLast())).build()));
    assertTrue(e.getMessage().contains("65 levels") && e.getMessage().contains("--max-depth"), e.getMessage());
    assertEquals(before, s.stats().objectCount(), "nothing stored");
    // A second, shallow member does not change the depth; the deepest one counts.
    long wide = s.putMeta(ObjectMeta.builder("t::Wide").member("a", new ObjectId(ids.get(10))).member("b", new ObjectId(ids.get(0))).build());
    assertEquals(12, ObjectStore.treeDepth(s.getMeta(wide)));
    assertEquals(64, ObjectStore.treeDepth(s.getMeta(ids.getLast())));
  }

  @Test
  void theDepthCeilingIsWhatClientsAndEtcdRecordsRead() {
    assertEquals(Protos.MAX_TREE_DEPTH, RequestLimits.DEPTH_CEILING);
    assertTrue(RecordCodec.MAX_TREE_DEPTH >= RequestLimits.DEPTH_CEILING);
    assertTrue(Protos.MAX_NESTING >= 2 * RequestLimits.DEPTH_CEILING + 3);
  }

  /** The recursive delete overflowed the stack part-way (3,680 of 20,000 deleted, then an error). */
  @Test
  void aDeepDeleteOfAVeryDeepChainDeletesAllOfIt() {
    ObjectStore s = store(RequestLimits.DEFAULT.withMaxDepth(30_000));
    List<Long> ids = chain(s, 20_000);
    ObjectStore.DeleteResult r = s.delete(List.of(ids.getLast()), false, true);
    assertEquals(20_000, r.deleted().size());
    assertEquals(0, s.stats().objectCount());
    assertEquals(0, s.stats().blobCount());
    assertEquals(0, s.stats().usedBytes());
  }

  @Test
  void aForcedDeleteOfTheBottomOfAVeryDeepChainDeletesEveryReferrer() {
    ObjectStore s = store(RequestLimits.DEFAULT.withMaxDepth(30_000));
    List<Long> ids = chain(s, 20_000);
    assertCode(ErrorCode.OBJECT_IN_USE, () -> s.delete(List.of(ids.getFirst()), false, false));
    assertEquals(20_000, s.stats().objectCount(), "a refused delete deletes nothing");
    ObjectStore.DeleteResult r = s.delete(List.of(ids.getFirst()), true, false);
    assertEquals(20_000, r.deleted().size());
    assertEquals(0, s.stats().objectCount());
  }

  @Test
  void aDeepDeleteKeepsMembersOthersStillReference() {
    ObjectStore s = store(RequestLimits.DEFAULT);
    long shared = blob(s);
    long own = blob(s);
    long a = s.putMeta(ObjectMeta.builder("t::A").member("s", new ObjectId(shared)).member("o", new ObjectId(own)).build());
    long b = s.putMeta(ObjectMeta.builder("t::B").member("s", new ObjectId(shared)).build());
    // A diamond below a: both paths are deleted with it.
    long x = blob(s);
    long left = s.putMeta(ObjectMeta.builder("t::L").member("x", new ObjectId(x)).build());
    long right = s.putMeta(ObjectMeta.builder("t::R").member("x", new ObjectId(x)).build());
    long top = s.putMeta(ObjectMeta.builder("t::Top").member("l", new ObjectId(left)).member("r", new ObjectId(right)).build());
    assertEquals(Set.of(a, own), new HashSet<>(s.delete(List.of(a), false, true).deleted()));
    assertTrue(s.exists(shared) && s.exists(b));
    assertEquals(Set.of(top, left, right, x), new HashSet<>(s.delete(List.of(top), false, true).deleted()));
    // Both referrers deleted together: the shared member goes too.
    long c = s.putMeta(ObjectMeta.builder("t::C").member("s", new ObjectId(shared)).build());
    assertEquals(Set.of(b, c, shared), new HashSet<>(s.delete(List.of(b, c), false, true).deleted()));
  }

  @Test
  void aDeleteThatFailsDeletesNothing() {
    ObjectStore s = store(RequestLimits.DEFAULT);
    List<Long> ids = chain(s, 10);
    long other = blob(s);
    long unknown = ObjectId.of(false, 3, 999_999).value();
    assertCode(ErrorCode.NOT_FOUND, () -> s.delete(List.of(ids.getLast(), other, unknown), false, true));
    assertEquals(11, s.stats().objectCount(), "the chain's blob and 9 objects and the other blob are all there");
    assertTrue(s.exists(other) && s.exists(ids.getFirst()));
  }

  @Test
  void metadataIsValidatedOnTheWayIn() {
    ObjectStore s = store(RequestLimits.DEFAULT);
    long b = blob(s);
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(ObjectMeta.builder("t::X").jsonField("j", "{not json").build()));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(ObjectMeta.builder("t::X").jsonField("j", "[1] [2]").build()));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(ObjectMeta.builder("t::X").nbytes(-1).build()));
    assertCode(ErrorCode.INVALID_ARGUMENT,
        () -> s.putMeta(ObjectMeta.of(null, "t::X", 0, 0, false, Map.of(), Map.of("", ObjectMeta.reference(new ObjectId(b))))));
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(ObjectMeta.builder("t::" + "x".repeat(5000)).build()));
    assertEquals(1, s.stats().objectCount(), "only the blob");
    // Control characters are allowed in typenames and field names: they are escaped wherever shown.
    s.putMeta(ObjectMeta.builder("t::\nodd").field("a\u001b[31m", 1L).build());
    s.putMeta(ObjectMeta.builder("t::X").jsonField("j", "{\"ok\": [1, 2.5, null]}").field("ünïcödé", "ok").build());
  }

  @Test
  void sizesAndCountsAreBounded() {
    RequestLimits small = new RequestLimits(10, 64, 100, 1000, 64, 4000, 1 << 20);
    ObjectStore s = store(small);
    VineyardException e = assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(ObjectMeta.builder("t::X").field("f", "x".repeat(1001)).build()));
    assertTrue(e.getMessage().contains("--max-field-size"), e.getMessage());
    s.putMeta(ObjectMeta.builder("t::X").field("f", "x".repeat(1000)).build());
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(ObjectMeta.builder("t::X").field("f", "é".repeat(501)).build()));
    ObjectMeta.Builder many = ObjectMeta.builder("t::Many");
    for (int i = 0; i < 101; i++) {
      many.field("f" + i, (long) i);
    }
    assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(many.build())).getMessage().contains("--max-fields"));
    ObjectMeta.Builder big = ObjectMeta.builder("t::Big");
    for (int i = 0; i < 5; i++) {
      big.field("f" + i, "y".repeat(900));
    }
    assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putMeta(big.build())).getMessage().contains("--max-meta-size"));
    assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> small.checkIds(11, "get_blobs")).getMessage().contains("--max-request-ids"));
    small.checkIds(10, "get_blobs");
    assertCode(ErrorCode.INVALID_ARGUMENT, () -> s.putName("n".repeat(65), blob(s)));
  }

  /** 28 objects with 16 MiB fields ran the daemon out of heap: the store's metadata has a budget. */
  @Test
  void storedMetadataHasABudgetThatDeletesGiveBack() {
    RequestLimits limits = RequestLimits.DEFAULT.withMetaMemory(2 << 20);
    ObjectStore s = store(limits);
    String field = "z".repeat(300_000);
    List<Long> stored = new ArrayList<>();
    VineyardException full = null;
    for (int i = 0; i < 20 && full == null; i++) {
      try {
        stored.add(s.putMeta(ObjectMeta.builder("t::Fat").field("f", field).build()));
      } catch (VineyardException e) {
        full = e;
      }
    }
    assertTrue(full != null && full.code() == ErrorCode.OUT_OF_MEMORY, "the budget ran out");
    assertTrue(full.getMessage().contains("--meta-memory"), full.getMessage());
    assertEquals(6, stored.size(), "2 MiB holds six objects of 300,000 bytes");
    s.delete(List.of(stored.getFirst()), false, false);
    s.putMeta(ObjectMeta.builder("t::Fat").field("f", field).build());
  }

  /**
   * A listing whose pattern is slow to match must not hold the store's lock: other clients' requests
   * (here a stats) go on meanwhile. With the matching under the lock, a stats waited for the whole
   * listing (122 s in the report).
   */
  @Test
  void aListingDoesNotHoldUpOtherRequests() throws Exception {
    ObjectStore s = store(RequestLimits.DEFAULT);
    for (int i = 0; i < 20_000; i++) {
      s.putMeta(ObjectMeta.builder("t::" + "a".repeat(1000) + i).build()); // distinct typenames: no match is reused
    }
    String pattern = "*" + "a".repeat(300) + "b*";
    AtomicLong worstStatsNanos = new AtomicLong();
    Thread lister = Thread.ofPlatform().start(() -> {
      for (int k = 0; k < 3; k++) {
        assertEquals(0, s.list(pattern, 10).objects().size());
      }
    });
    while (lister.isAlive()) {
      long t0 = System.nanoTime();
      s.stats();
      worstStatsNanos.accumulateAndGet(System.nanoTime() - t0, Math::max);
      Thread.sleep(1);
    }
    lister.join();
    assertTrue(worstStatsNanos.get() < TimeUnit.MILLISECONDS.toNanos(1000),
        "a stats waited " + worstStatsNanos.get() / 1_000_000 + " ms for a listing");
    long t0 = System.nanoTime();
    assertEquals(10, s.list("t::a*", 10).objects().size());
    assertFalse(s.list("t::a*", 10).objects().isEmpty());
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
  }
}
