package io.vineyard.server.store;

import io.vineyard.internal.Escapes;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** What one connected client holds: its pins and the blobs it is still writing. */
public final class Session {

  final long id;
  final String name;
  /** The trust domain whose regions this client writes its blobs in ({@code MemoryArena.SHARED} unless isolated). */
  final int domain;
  /** Blob id to the number of pins this client holds on it. */
  final Map<Long, Integer> pins = new HashMap<>();
  /** Blobs created by this client and not yet sealed or aborted. */
  final Set<Long> unsealed = new HashSet<>();
  /** Set (under the store's lock) when the client disconnected: nothing more may be pinned or created for it. */
  boolean closed;
  /** Regions whose read-only descriptors this client has received. Touched only by its connection's thread. */
  private final Set<Integer> readOnlySent = new HashSet<>();
  /** Regions whose read-write descriptors this client has received (it wrote a blob there). */
  private final Set<Integer> writableSent = new HashSet<>();

  Session(long id, String name, int domain) {
    this.id = id;
    this.name = name;
    this.domain = domain;
  }

  public int domain() {
    return domain;
  }

  public long id() {
    return id;
  }

  public String name() {
    return name;
  }

  /**
   * Marks a region's read-only or read-write descriptor as sent; returns true the first time, when
   * that descriptor must go out.
   */
  public boolean markRegionSent(int region, boolean writable) {
    return (writable ? writableSent : readOnlySent).add(region);
  }

  /** For logs: the client name as it chose it, with control characters escaped (see {@link Escapes}). */
  @Override
  public String toString() {
    return "client " + id + (name.isEmpty() ? "" : " (" + Escapes.printable(name) + ")");
  }
}
