package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.ObjectMeta;
import io.vineyard.client.Listing;
import io.vineyard.client.MetadataClient;
import io.vineyard.client.ObjectInfo;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "ls",
    mixinStandardHelpOptions = true,
    description = {
      "Lists the daemon's objects, oldest first: id, type, size, instance and names.",
      "With --global, lists instead the objects that any instance of the cluster has persisted."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl ls",
      "  vineyardctl ls --typename 'vineyard::Blob'",
      "  vineyardctl ls --typename '*Tensor*' --output json",
      "  vineyardctl ls --global",
      "  vineyardctl ls --rpc node-2:9600",
      ""
    })
final class LsCommand extends MetadataCommand {

  @Option(names = "--typename", paramLabel = "PATTERN", description = "Only types matching this glob (* and ?).")
  String typename;

  @Option(names = "--limit", paramLabel = "N", defaultValue = "0",
      description = "At most N objects (default: the daemon's limit, 10000 unless configured).")
  int limit;

  @Option(names = "--global",
      description = "The objects persisted by every instance of the cluster instead of this daemon's own.")
  boolean global;

  @Override
  protected int run(MetadataClient client) {
    Listing listing = client.listObjects(typename, limit, global);
    List<ObjectInfo> objects = listing.objects();
    if (listing.truncated() && limit <= 0) {
      root.err.println("vineyardctl: showing the first " + objects.size() + " objects only; use --limit for more");
    }
    if (root.json()) {
      StringBuilder b = new StringBuilder("[");
      for (ObjectInfo o : objects) {
        ObjectMeta m = o.meta();
        b.append(b.length() > 1 ? ",\n  " : "\n  ")
            .append("{\"id\": ").append(Json.string(m.id().toString()))
            .append(", \"typename\": ").append(Json.string(m.typename()))
            .append(", \"nbytes\": ").append(m.nbytes())
            .append(", \"instance_id\": ").append(m.instanceId())
            .append(", \"global\": ").append(m.isGlobal())
            .append(", \"names\": ").append(Json.strings(o.names()))
            .append('}');
      }
      root.out.println(b.append(objects.isEmpty() ? "]" : "\n]"));
      return ExitCodes.OK;
    }
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"ID", "TYPENAME", "SIZE", "INSTANCE", "NAMES"});
    for (ObjectInfo o : objects) {
      ObjectMeta m = o.meta();
      rows.add(new String[] {
        m.id().toString(), m.typename(), MemorySize.format(m.nbytes()), Long.toString(m.instanceId()), String.join(",", o.names())
      });
    }
    Table.print(root.out, rows);
    return ExitCodes.OK;
  }
}
