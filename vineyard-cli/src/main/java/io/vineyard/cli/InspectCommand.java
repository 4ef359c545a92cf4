package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.ObjectMeta;
import io.vineyard.client.MetadataClient;
import io.vineyard.objects.ObjectSummary;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    description = {
      "Shows an object's metadata tree: type, size, fields and members, down to the blobs.",
      "For tables, tensors, graphs and global objects a summary comes first: schema, rows, batches or chunks (with"
          + " the instance holding each), shape.",
      "Objects persisted by other instances of the cluster are found too, by id or by name."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl inspect o0001a2b3c4d5e6f7",
      "  vineyardctl inspect features --output json",
      "  vineyardctl inspect features --rpc node-2:9600",
      ""
    })
final class InspectCommand extends MetadataCommand {

  @Parameters(paramLabel = "ID|NAME", description = "The object's id or a name bound to it.")
  String ref;

  @Override
  protected int run(MetadataClient client) {
    ObjectMeta meta = client.getMeta(resolve(client, ref));
    if (root.json()) {
      root.out.println(Json.meta(meta, 0));
    } else {
      ObjectSummary.of(meta).ifPresent(lines -> {
        lines.forEach(root.out::println);
        root.out.println();
      });
      print(meta, "", "");
    }
    return ExitCodes.OK;
  }

  private void print(ObjectMeta m, String indent, String label) {
    root.out.println(indent + label + m.id() + "  " + m.typename() + "  " + MemorySize.format(m.nbytes())
        + "  instance " + m.instanceId() + (m.isGlobal() ? "  global" : ""));
    for (Map.Entry<String, Object> f : m.fields().entrySet()) {
      String value = ObjectSummary.isEncodedSchema(f.getKey())
          ? "(Arrow IPC schema, base64, " + f.getValue().toString().length() + " characters)"
          : Json.value(f.getValue());
      root.out.println(indent + "    " + f.getKey() + " = " + value);
    }
    for (Map.Entry<String, ObjectMeta> e : m.members().entrySet()) {
      print(e.getValue(), indent + "    ", e.getKey() + ": ");
    }
  }
}
