package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.ObjectMeta;
import io.vineyard.client.IpcClient;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "ls",
    mixinStandardHelpOptions = true,
    description = "Lists objects, oldest first: id, type, size, instance and names.",
    footer = {
      "",
      "Examples:",
      "  vineyardctl ls",
      "  vineyardctl ls --typename 'vineyard::Blob'",
      "  vineyardctl ls --typename '*Tensor*' --output json",
      ""
    })
final class LsCommand extends ClientCommand {

  @Option(names = "--typename", paramLabel = "PATTERN", description = "Only types matching this glob (* and ?).")
  String typename;

  @Option(names = "--limit", paramLabel = "N", defaultValue = "0",
      description = "At most N objects (default: the daemon's limit, 10000 unless configured).")
  int limit;

  @Override
  protected int run(IpcClient client) {
    Listing listing = client.listObjects(typename, limit);
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
