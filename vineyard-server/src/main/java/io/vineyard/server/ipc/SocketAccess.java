package io.vineyard.server.ipc;

import java.util.Set;

/**
 * Who may use the socket beyond what its file mode allows: with no list, everyone who can open it;
 * otherwise a peer whose uid is listed, whose primary gid is listed, or who runs as the daemon's own
 * user. Checked on the peer credentials the kernel reports for the connection ({@code SO_PEERCRED}),
 * which carry the primary group only, not supplementary ones.
 */
public record SocketAccess(Set<Integer> uids, Set<Integer> gids, int ownUid) {

  /** Everyone the socket's file mode lets in. */
  public static SocketAccess open(int ownUid) {
    return new SocketAccess(Set.of(), Set.of(), ownUid);
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
