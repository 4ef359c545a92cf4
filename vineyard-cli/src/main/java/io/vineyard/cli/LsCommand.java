package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.client.IpcClient;
import io.vineyard.client.Listing;
import io.vineyard.client.MetadataClient;
import io.vineyard.client.ObjectInfo;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "ls",
    mixinStandardHelpOptions = true,
    description = {
      "Lists the daemon's top-level objects, oldest first: id, type, size, instance and names. Objects that are"
          + " members of another (the blobs and batches of a table, ...) are left out unless --all is given.",
      "With --global, lists instead the objects that any instance of the cluster has persisted."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl ls",
      "  vineyardctl ls --all --typename 'vineyard::Blob'",
      "  vineyardctl ls --typename '*Tensor*' --output json",
      "  vineyardctl ls --global",
      "  vineyardctl ls --rpc node-2:9600",
      ""
    })
final class LsCommand extends MetadataCommand {

  /** The daemon's --list-limit unless configured: a filtered listing asks for at least this many. */
  private static final int DEFAULT_DAEMON_LIMIT = 10_000;

  @Option(names = "--typename", paramLabel = "PATTERN", description = "Only types matching this glob (* and ?).")
  String typename;

  @Option(names = "--limit", paramLabel = "N", defaultValue = "0",
      description = "At most N objects (default: the daemon's limit, 10000 unless configured).")
  int limit;

  @Option(names = "--all", description = "Also the objects that are members of another object.")
  boolean all;

  @Option(names = "--global",
      description = "The objects persisted by every instance of the cluster instead of this daemon's own.")
  boolean global;

  @Override
  protected int run(MetadataClient client) {
    List<ObjectInfo> objects;
    boolean truncated;
    if (all) {
      Listing listing = client.listObjects(typename, limit, global);
      objects = listing.objects();
      truncated = listing.truncated();
    } else if (!global && client instanceof IpcClient ipc) {
      // The daemon leaves the members out before its limit, so a cut listing stays top-level.
      Listing listing = ipc.listTopLevel(typename, limit);
      objects = listing.objects();
      truncated = listing.truncated();
    } else {
      // Members are told apart by their parents, which the type filter may leave out: list all.
      int fetch = limit > 0 ? Math.max(limit, DEFAULT_DAEMON_LIMIT) : 0;
      Listing everything = client.listObjects(null, fetch, global);
      Set<ObjectId> members = memberIds(everything.objects());
      List<ObjectInfo> matching = typename == null ? everything.objects() : client.listObjects(typename, fetch, global).objects();
      objects = matching.stream().filter(o -> !members.contains(o.meta().id())).toList();
      truncated = everything.truncated();
      if (limit > 0 && objects.size() > limit) {
        objects = objects.subList(0, limit);
      }
    }
    if (truncated && limit <= 0) {
      root.err.println("vineyardctl: showing the first " + objects.size() + " objects only; use --limit for more, or"
          + " --typename to narrow the listing (an answer is also cut at the size a reply may take)");
    } else if (truncated && objects.size() < limit) {
      // Fewer than asked and yet cut: by the size a reply may take, or (--global) by members filling it.
      root.err.println("vineyardctl: showing " + objects.size() + " objects only of the " + limit + " asked for: the"
          + " daemon's answer was cut at the size a reply may take" + (global ? " or filled by members of other objects" : "")
          + "; use --typename to narrow the listing");
    }
    if (root.json()) {
      StringBuilder b = new StringBuilder("[");
      for (ObjectInfo o : objects) {
        ObjectMeta m = o.meta();
        b.append(b.length() > 1 ? ",\n  " : "\n  ")
            .append("{\"id\": ").append(Json.string(m.id().toString()))
            .append(", \"typename\": ").append(Json.string(m.typename()))
            .append(", \"size_bytes\": ").append(m.nbytes())
            .append(", \"instance_id\": ").append(m.instanceId())
            .append(", \"global\": ").append(m.isGlobal())
            .append(global ? ", \"persisted\": true" : "")
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

  /** The ids of every member of the listed objects (and of their members, as far as the metadata goes). */
  static Set<ObjectId> memberIds(List<ObjectInfo> objects) {
    Set<ObjectId> ids = new HashSet<>();
    List<ObjectMeta> todo = new ArrayList<>();
    objects.forEach(o -> todo.add(o.meta()));
    while (!todo.isEmpty()) {
      for (ObjectMeta member : todo.removeLast().members().values()) {
        if (ids.add(member.id())) {
          todo.add(member);
        }
      }
    }
    return ids;
  }
}
