package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;

/**
 * A subcommand that needs the local daemon's socket (it writes, reads bytes zero-copy, or changes
 * what the daemon holds): connects, runs, closes. Refuses {@code --rpc}.
 */
abstract non-sealed class ClientCommand extends DaemonCommand {

  @Override
  public final Integer call() throws Exception {
    if (root.rpc != null) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          spec.name() + " needs the local daemon's socket and cannot use --rpc (which only ls, inspect, instances,"
              + " locate and stats accept)");
    }
    try (IpcClient client = root.connect(!needsBlobs())) {
      return run(client);
    }
  }

  /**
   * Whether the command creates or reads blobs' bytes; the others connect for metadata only, which
   * opens faster (see {@link IpcClient.Builder#metadataOnly()}).
   */
  protected boolean needsBlobs() {
    return true;
  }

  protected abstract int run(IpcClient client) throws Exception;
}
