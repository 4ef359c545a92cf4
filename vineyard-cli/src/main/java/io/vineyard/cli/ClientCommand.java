package io.vineyard.cli;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.ParentCommand;

/** A subcommand that talks to the daemon: connects, runs, closes. Failures go to the root's handler. */
abstract class ClientCommand implements Callable<Integer> {

  @ParentCommand Vineyardctl root;

  @Override
  public final Integer call() throws Exception {
    try (IpcClient client = root.connect()) {
      return run(client);
    }
  }

  protected abstract int run(IpcClient client) throws Exception;

  /** An object named by its id ({@code o} + 16 hex digits) or by a name bound to it. */
  static ObjectId resolve(IpcClient client, String ref) {
    return ObjectId.looksLikeId(ref) ? ObjectId.parse(ref) : client.getName(ref);
  }

  void verbose(String format, Object... args) {
    if (root.verbose) {
      root.err.printf(format + "%n", args);
    }
  }
}
