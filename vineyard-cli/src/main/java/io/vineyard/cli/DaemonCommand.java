package io.vineyard.cli;

import io.vineyard.ObjectId;
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

  /** A line on stderr, with {@code --verbose} only. */
  void verbose(String format, Object... args) {
    if (root.verbose) {
      root.err.printf(format + "%n", args);
    }
  }
}
