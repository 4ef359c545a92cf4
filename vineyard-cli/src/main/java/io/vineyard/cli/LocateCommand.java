package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.Placement;
import io.vineyard.client.MetadataClient;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
    name = "locate",
    mixinStandardHelpOptions = true,
    description = {
      "Shows where an object lives: the object itself (path .), each member under it and each blob, with the"
          + " instance that holds it, that instance's host and its gRPC endpoint. An object that appears at several"
          + " places of the tree is shown once, at the first.",
      "Finds this daemon's objects and those persisted by any instance."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl locate training-set",
      "  vineyardctl locate o0001a2b3c4d5e6f7 --output json",
      "  vineyardctl locate training-set --rpc node-2:9600",
      ""
    })
final class LocateCommand extends MetadataCommand {

  @Parameters(paramLabel = "ID|NAME", description = "The object's id or a name bound to it.")
  String ref;

  @Override
  protected int run(MetadataClient client) {
    List<Placement> placements = client.locate(resolve(client, ref));
    if (root.json()) {
      StringBuilder b = new StringBuilder("[");
      for (Placement p : placements) {
        b.append(b.length() > 1 ? ",\n  " : "\n  ")
            .append("{\"path\": ").append(Json.string(path(p)))
            .append(", \"id\": ").append(Json.string(p.id().toString()))
            .append(", \"typename\": ").append(Json.string(p.typename()))
            .append(", \"size_bytes\": ").append(p.nbytes())
            .append(", \"instance_id\": ").append(p.instanceId())
            .append(", \"hostname\": ").append(Json.string(p.hostname()))
            .append(", \"rpc_endpoint\": ").append(Json.string(p.rpcEndpoint()))
            .append('}');
      }
      root.out.println(b.append(placements.isEmpty() ? "]" : "\n]"));
      return ExitCodes.OK;
    }
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"PATH", "ID", "TYPENAME", "SIZE", "INSTANCE", "HOST", "RPC"});
    for (Placement p : placements) {
      rows.add(new String[] {
        path(p),
        p.id().toString(),
        p.typename(),
        MemorySize.format(p.nbytes()),
        Long.toString(p.instanceId()),
        InstancesCommand.orDash(p.hostname()),
        InstancesCommand.orDash(p.rpcEndpoint())
      });
    }
    Table.print(root.out, rows);
    return ExitCodes.OK;
  }

  /** The member path, {@code .} for the object itself (in the table and in JSON alike). */
  private static String path(Placement p) {
    return p.path().isEmpty() ? "." : p.path();
  }
}
