package io.vineyard.server.ipc;

import java.util.Set;

/**
 * Who may use the socket beyond what its file mode allows, and whether users are kept apart. With
 * no list, everyone who can open it; otherwise a peer whose uid is listed, whose primary gid is
 * listed, or who runs as the daemon's own user. Checked on the peer credentials the kernel reports
 * for the connection ({@code SO_PEERCRED}), which carry the primary group only, not supplementary
 * ones. With {@code isolateUsers}, each user's clients write their blobs in regions of that user's
 * own, so no client can write (or is handed a writable descriptor of) another user's blobs.
 */
public record SocketAccess(Set<Integer> uids, Set<Integer> gids, int ownUid, boolean isolateUsers) {

  /** Everyone the socket's file mode lets in, not isolated. */
  public static SocketAccess open(int ownUid) {
    return new SocketAccess(Set.of(), Set.of(), ownUid, false);
  }

  public SocketAccess {
    uids = Set.copyOf(uids);
    gids = Set.copyOf(gids);
  }

  /** Whether the lists restrict anyone at all. */
  public boolean restricted() {
    return !uids.isEmpty() || !gids.isEmpty();
  }

  /** Whether a peer with these credentials may register. */
  public boolean admits(int uid, int gid) {
    return !restricted() || uid == ownUid || uids.contains(uid) || gids.contains(gid);
  }
}
