package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "name",
    mixinStandardHelpOptions = true,
    description = "Binds NAME to an object (replacing an earlier binding of NAME), or drops a name.",
    footer = {
      "",
      "Examples:",
      "  vineyardctl name o8000000000000001 latest-model",
      "  vineyardctl name --drop latest-model",
      ""
    })
final class NameCommand extends ClientCommand {

  @Parameters(index = "0", arity = "0..1", paramLabel = "ID|NAME", description = "The object, by id or by another name.")
  String ref;

  @Parameters(index = "1", arity = "0..1", paramLabel = "NAME", description = "The name to bind.")
  String name;

  @Option(names = "--drop", paramLabel = "NAME", description = "Unbind NAME instead.")
  String drop;

  @Override
  protected boolean needsBlobs() {
    return false;
  }

  @Override
  protected int run(IpcClient client) {
    if (drop != null) {
      if (ref != null) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--drop takes no other arguments");
      }
      client.dropName(drop);
      if (root.json()) {
        root.out.println("{\"name\": " + Json.string(drop) + ", \"dropped\": true}");
      }
      return ExitCodes.OK;
    }
    if (ref == null || name == null) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "usage: vineyardctl name ID|NAME NAME, or name --drop NAME");
    }
    checkName(name);
    ObjectId id = resolve(client, ref);
    client.putName(name, id);
    if (root.json()) {
      root.out.println("{\"name\": " + Json.string(name) + ", \"id\": " + Json.string(id.toString()) + "}");
    }
    return ExitCodes.OK;
  }

  /** Names that look like ids could never be resolved by name, so they are refused. */
  static void checkName(String name) {
    if (name.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "a name must not be empty");
    }
    if (ObjectId.looksLikeId(name)) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, "'" + name + "' looks like an object id and would always be read as one; pick another name");
    }
  }
}
