package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
    name = "migrate",
    mixinStandardHelpOptions = true,
    description = {
      "Makes an object persisted by another instance local: this node's daemon copies the blobs it does not hold from"
          + " their owners and registers a replica, then prints the local object's id alone on the last line.",
      "An object that is already local is printed as it is; migrating the same object again gives the same replica."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl migrate o0001a2b3c4d5e6f7",
      "  id=$(vineyardctl migrate training-set) && vineyardctl get \"$id\" -o copy.bin",
      "  vineyardctl migrate training-set --output json --verbose",
      ""
    })
final class MigrateCommand extends ClientCommand {

  @Parameters(paramLabel = "ID|NAME", description = "The object, by id or by a name bound to it anywhere in the cluster.")
  String ref;

  @Override
  protected boolean needsBlobs() {
    return false;
  }

  @Override
  protected int run(IpcClient client) {
    long start = System.nanoTime();
    ObjectId source = resolve(client, ref);
    ObjectId local = client.migrate(source);
    double seconds = (System.nanoTime() - start) / 1e9;
    if (root.verbose) {
      long size = client.getMeta(local).nbytes();
      verbose("migrated %s to %s (%s) in %.3f s", source, local, MemorySize.format(size), seconds);
    }
    if (root.json()) {
      root.out.println("{\"id\": " + Json.string(local.toString()) + ", \"source_id\": " + Json.string(source.toString()) + "}");
    } else {
      root.out.println(local);
    }
    return ExitCodes.OK;
  }
}
