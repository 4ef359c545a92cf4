package io.vineyard.cli;

import io.vineyard.client.MetadataClient;

/**
 * A subcommand that only reads metadata: it asks the local daemon over its socket or, with {@code
 * --rpc HOST:PORT}, the daemon at that gRPC endpoint, through the same calls.
 */
abstract non-sealed class MetadataCommand extends DaemonCommand {

  @Override
  public final Integer call() throws Exception {
    try (MetadataClient client = root.connectMetadata()) {
      return run(client);
    }
  }

  protected abstract int run(MetadataClient client) throws Exception;
}
