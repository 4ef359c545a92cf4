package io.vineyard.server.store;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.internal.Escapes;
import java.util.Map;

/**
 * What one request may cost the daemon, so that no client can exhaust its heap or its stack with a
 * request that fits in a frame: how many ids one request names, how large and how many an object's
 * fields and members may be, how deep an object tree may go, and how much heap all stored metadata
 * may take. A request over a limit is refused with {@link ErrorCode#INVALID_ARGUMENT} (the metadata
 * budget, which many requests fill together, with {@link ErrorCode#OUT_OF_MEMORY}) before it costs
 * anything. Every limit has a flag of {@code vineyardd}; see docs/operations.md.
 *
 * @param maxIds ids (or blobs) one request may name: get, release, delete, seal, create of several
 * @param maxDepth levels of an object tree: a blob is level 1, an object whose deepest member is a
 *     blob level 2, and so on
 * @param maxFields fields one object may have, and members one object may have (each)
 * @param maxFieldBytes UTF-8 bytes of one field value (string or JSON)
 * @param maxNameBytes UTF-8 bytes of a typename, of a field or member name and of an object name
 * @param maxMetaBytes bytes of one object's metadata (its fields and members, names included), as
 *     {@link #metaBytes} counts them
 * @param metaMemory heap that the metadata of all stored objects may take together, as counted by
 *     {@link #metaBytes}
 * @param maxTreeObjects objects an object's tree may hold, a member counted as often as it appears
 *     in the tree: answers and persisted records spell a shared member out at every place it
 *     appears, so a few small objects sharing their members could otherwise make an answer of
 *     millions of objects
 */
public record RequestLimits(
    int maxIds, int maxDepth, int maxFields, long maxFieldBytes, int maxNameBytes, long maxMetaBytes, long metaMemory,
    long maxTreeObjects) {

  /** The default of {@link #maxTreeObjects}. */
  public static final long DEFAULT_TREE_OBJECTS = 200_000;

  /** Limits with the default {@link #maxTreeObjects}. */
  public RequestLimits(
      int maxIds, int maxDepth, int maxFields, long maxFieldBytes, int maxNameBytes, long maxMetaBytes, long metaMemory) {
    this(maxIds, maxDepth, maxFields, maxFieldBytes, maxNameBytes, maxMetaBytes, metaMemory, DEFAULT_TREE_OBJECTS);
  }

  /** The largest {@link #maxDepth} that may be configured: what clients read and the etcd records hold. */
  public static final int DEPTH_CEILING = io.vineyard.internal.Protos.MAX_TREE_DEPTH;

  /** Longest stretch of client input an error message echoes (then "..." and how long it was). */
  public static final int ECHO_CHARS = 200;

  /** The defaults: generous for real data (a table of tens of thousands of columns fits), small against abuse. */
  public static final RequestLimits DEFAULT =
      new RequestLimits(100_000, 64, 100_000, 16L << 20, 4096, 32L << 20, defaultMetaMemory());

  public RequestLimits {
    if (maxIds < 1 || maxFields < 1 || maxFieldBytes < 1 || maxNameBytes < 1 || maxMetaBytes < 1 || metaMemory < 1
        || maxTreeObjects < 1) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "request limits must be positive");
    }
    // The daemon's flag stops at DEPTH_CEILING; the store itself works at any depth (tests go deeper).
    if (maxDepth < 2) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "the depth limit must be at least 2");
    }
  }

  /** Half of the JVM's heap: the rest is for requests in flight, replies being built, the table itself. */
  public static long defaultMetaMemory() {
    return Runtime.getRuntime().maxMemory() / 2;
  }

  /** These limits with another depth limit. */
  public RequestLimits withMaxDepth(int depth) {
    return new RequestLimits(maxIds, depth, maxFields, maxFieldBytes, maxNameBytes, maxMetaBytes, metaMemory, maxTreeObjects);
  }

  /** These limits with another heap budget for metadata. */
  public RequestLimits withMetaMemory(long bytes) {
    return new RequestLimits(maxIds, maxDepth, maxFields, maxFieldBytes, maxNameBytes, maxMetaBytes, bytes, maxTreeObjects);
  }

  /** These limits with another limit on the objects of a tree. */
  public RequestLimits withMaxTreeObjects(long objects) {
    return new RequestLimits(maxIds, maxDepth, maxFields, maxFieldBytes, maxNameBytes, maxMetaBytes, metaMemory, objects);
  }

  /** Refuses a tree of more than {@link #maxTreeObjects} objects. */
  public void checkTreeObjects(long objects) {
    if (objects > maxTreeObjects) {
      throw invalid("the object's tree would hold " + (objects == Long.MAX_VALUE ? "more than " + maxTreeObjects : objects)
          + " objects, more than the " + maxTreeObjects + " a tree may hold (--max-tree-objects; a member counts as often"
          + " as it appears in the tree, as answers and persisted records spell it out)");
    }
  }

  /** Refuses a request naming more than {@link #maxIds} ids. */
  public void checkIds(int count, String what) {
    if (count > maxIds) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          what + " names " + count + " ids, more than the " + maxIds + " one request may name (--max-request-ids); split it");
    }
  }

  /**
   * Refuses metadata that is over a limit or that could not be stored, listed and read back: a
   * blank typename, an empty name, a field without a value of a supported type, a
   * JSON field that is not JSON, a member without an id, a negative nbytes.
   *
   * @return the bytes the object's metadata counts for ({@link #metaBytes})
   */
  public long checkMeta(ObjectMeta meta) {
    checkText("typename", meta.typename());
    if (meta.nbytes() < 0) {
      throw invalid("nbytes " + Long.toUnsignedString(meta.nbytes()) + " is more than 2^63 - 1, the most an object may have");
    }
    if (meta.fields().size() > maxFields) {
      throw invalid("an object may have at most " + maxFields + " fields (--max-fields), this one has " + meta.fields().size());
    }
    if (meta.members().size() > maxFields) {
      throw invalid("an object may have at most " + maxFields + " members (--max-fields), this one has " + meta.members().size());
    }
    long total = 0;
    for (Map.Entry<String, Object> f : meta.fields().entrySet()) {
      checkText("field name", f.getKey());
      Object v = f.getValue();
      long size = valueBytes(v);
      if (size > maxFieldBytes) {
        throw invalid("field '" + echo(f.getKey()) + "' takes " + size + " bytes, more than the " + maxFieldBytes
            + " a field may take (--max-field-size)");
      }
      if (v instanceof ObjectMeta.Json j) {
        String bad = JsonSyntax.check(j.text());
        if (bad != null) {
          throw invalid("field '" + echo(f.getKey()) + "' is not valid JSON: " + bad);
        }
      }
      total += utf8Length(f.getKey()) + size;
    }
    for (Map.Entry<String, ObjectMeta> m : meta.members().entrySet()) {
      checkText("member name", m.getKey());
      if (m.getValue().id() == null || m.getValue().id().value() == 0) {
        throw invalid("member '" + echo(m.getKey()) + "' names no object (id 0)");
      }
      total += utf8Length(m.getKey()) + Long.BYTES;
    }
    if (total > maxMetaBytes) {
      throw invalid("the object's fields and members take " + total + " bytes, more than the " + maxMetaBytes
          + " one object's metadata may take (--max-meta-size)");
    }
    return metaBytes(meta);
  }

  /** Refuses a name (of an object) that is empty, not printable or too long. */
  public void checkName(String name) {
    ObjectStore.checkName(name);
    if (utf8Length(name) > maxNameBytes) {
      throw invalid("a name may take at most " + maxNameBytes + " bytes (--max-name-size), got " + echo(name));
    }
  }

  private void checkText(String what, String s) {
    if (s == null || s.isEmpty()) {
      throw invalid("a " + what + " must not be empty");
    }
    if (what.equals("typename") && s.isBlank()) {
      throw invalid("an object needs a typename");
    }
    // Control characters are allowed: whatever shows other clients' text escapes it (logs, the CLI).
    if (utf8Length(s) > maxNameBytes) {
      throw invalid("a " + what + " may take at most " + maxNameBytes + " bytes (--max-name-size), got " + echo(s));
    }
  }

  /**
   * What an object's metadata is counted for against the heap budget: what it takes on the heap, as
   * measured (MetaBudgetTest): its strings as Java keeps them (one byte a character, two for the
   * whole string once one character is past U+00FF; a string of half a heap region or more takes
   * whole regions), and for each object, field and member the table's own objects (a member costs
   * its entry, its reference and its place in the member's set of parents).
   */
  public static long metaBytes(ObjectMeta meta) {
    long total = OBJECT_HEAP + heapBytes(meta.typename());
    for (Map.Entry<String, Object> f : meta.fields().entrySet()) {
      total += FIELD_HEAP + heapBytes(f.getKey()) + valueHeap(f.getValue());
    }
    for (String m : meta.members().keySet()) {
      total += MEMBER_HEAP + heapBytes(m);
    }
    return total;
  }

  /** What a bound name counts against the heap budget: the string and its entries in both name tables. */
  public static long nameBytes(String name) {
    return NAME_HEAP + heapBytes(name);
  }

  /** Heap of one name beside its string: an entry in the name table and in its object's set of names. */
  private static final long NAME_HEAP = 160;

  /** Heap of one stored object beside its strings, fields and members (its entries in the store's tables). */
  private static final long OBJECT_HEAP = 512;
  /** Heap of one field beside its name and value (a map entry). */
  private static final long FIELD_HEAP = 64;
  /** Heap of one member beside its name (measured about 390 bytes). */
  private static final long MEMBER_HEAP = 400;
  /** The heap's region size (G1: an array of half a region or more takes whole regions); 1 MiB if unknown. */
  private static final long REGION = regionSize();

  private static long regionSize() {
    try {
      var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
      long r = Long.parseLong(hotspot.getVMOption("G1HeapRegionSize").getValue());
      return r > 0 ? r : 1L << 20;
    } catch (RuntimeException | LinkageError e) {
      return 1L << 20;
    }
  }

  /** UTF-8 bytes of a field's value (a number counts eight). */
  private static long valueBytes(Object v) {
    return switch (v) {
      case String s -> utf8Length(s);
      case ObjectMeta.Json j -> utf8Length(j.text());
      default -> Long.BYTES;
    };
  }

  private static long valueHeap(Object v) {
    return switch (v) {
      case String s -> heapBytes(s);
      case ObjectMeta.Json j -> 16 + heapBytes(j.text());
      default -> 16; // a boxed number or boolean
    };
  }

  /** Heap of a string: the object, its array's header and one or two bytes a character. */
  static long heapBytes(String s) {
    long chars = s.length();
    boolean latin1 = true;
    for (int i = 0; i < s.length() && latin1; i++) {
      latin1 = s.charAt(i) <= 0xFF;
    }
    long array = 16 + (latin1 ? chars : 2 * chars);
    if (array >= REGION / 2) {
      array = (array + REGION - 1) / REGION * REGION; // a humongous object: whole regions
    }
    return 24 + array;
  }

  /** UTF-8 length of {@code s}, without encoding it. */
  static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  /**
   * Client input as an error message may quote it: escaped ({@link Escapes#printable}) and cut to
   * {@link #ECHO_CHARS} characters, saying how long it was, so that a reply never grows with what
   * the client sent (a gRPC status must fit the client's 8 KiB of headers).
   */
  public static String echo(String s) {
    if (s == null) {
      return "null";
    }
    if (s.length() <= ECHO_CHARS) {
      return Escapes.printable(s);
    }
    return Escapes.printable(s.substring(0, ECHO_CHARS)) + "... (" + s.length() + " characters)";
  }

  private static VineyardException invalid(String message) {
    return new VineyardException(ErrorCode.INVALID_ARGUMENT, message);
  }
}
