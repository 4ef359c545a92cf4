package io.vineyard.cli;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
    name = "persist",
    mixinStandardHelpOptions = true,
    description = {
      "Publishes an object of this daemon, with every member under it, to the cluster's metadata: every instance can"
          + " then list, inspect, locate and migrate it, and the names bound to it resolve everywhere.",
      "Persisting an object again does nothing. Prints nothing (with --output json: {\"id\": \"o...\", \"persisted\": true})."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl persist o0001a2b3c4d5e6f7",
      "  vineyardctl persist training-set --verbose",
      ""
    })
final class PersistCommand extends ClientCommand {

  @Parameters(paramLabel = "ID|NAME", description = "The object, held by this daemon, by id or by a name bound to it.")
  String ref;

  @Override
  protected boolean needsBlobs() {
    return false;
  }

  @Override
  protected int run(IpcClient client) {
    long start = System.nanoTime();
    ObjectId id = resolve(client, ref);
    client.persist(id);
    verbose("persisted %s in %.3f s", id, (System.nanoTime() - start) / 1e9);
    if (root.json()) {
      root.out.println("{\"id\": " + Json.string(id.toString()) + ", \"persisted\": true}");
    }
    return ExitCodes.OK;
  }
}
