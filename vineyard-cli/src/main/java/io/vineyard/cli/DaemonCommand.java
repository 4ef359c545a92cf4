package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.MetadataClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * A subcommand that talks to a daemon. Subclasses say which: {@link ClientCommand} needs the local
 * daemon's socket, {@link MetadataCommand} only reads metadata and may also ask a remote daemon
 * ({@code --rpc}). Failures go to the root's handler, which picks the exit status.
 */
abstract sealed class DaemonCommand implements Callable<Integer> permits ClientCommand, MetadataCommand {

  @ParentCommand Vineyardctl root;

  @Spec CommandSpec spec;

  /** An object named by its id ({@code o} + 16 hex digits) or by a name bound to it. */
  static ObjectId resolve(MetadataClient client, String ref) {
    return ObjectId.looksLikeId(ref) ? ObjectId.parse(ref) : client.getName(ref);
  }

  /**
   * An object that the local daemon holds, by id or name, for commands that read its bytes or delete
   * it. One that lives on another instance (persisted there, not migrated here) fails with exit
   * status 3, saying where it lives and how to get it here.
   */
  static ObjectId resolveLocal(IpcClient client, String ref) {
    ObjectId id = resolve(client, ref);
    if (id.instanceId() == client.instanceId()) {
      return id;
    }
    ObjectMeta meta = client.getMeta(id); // from the cluster: not found fails here
    if (meta.isGlobal() || client.exists(id)) {
      return id;
    }
    String where = client.locate(id).stream()
        .filter(p -> p.path().isEmpty())
        .findFirst()
        .map(p -> p.hostname().isEmpty() ? "" : " (host " + p.hostname() + ")")
        .orElse("");
    throw new VineyardException(
        ErrorCode.NOT_FOUND,
        "object " + id + (ref.equals(id.toString()) ? "" : " ('" + ref + "')") + " lives on instance " + meta.instanceId() + where
            + ", not on this daemon's instance " + client.instanceId() + "; migrate it here first: vineyardctl migrate " + ref);
  }

  /** A line on stderr, with {@code --verbose} only. */
  void verbose(String format, Object... args) {
    if (root.verbose) {
      root.err.printf(format + "%n", args);
    }
  }
}
