package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.ObjectMeta;
import io.vineyard.client.MetadataClient;
import io.vineyard.internal.Escapes;
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
      summary(meta).ifPresent(lines -> {
        lines.forEach(root.out::println);
        root.out.println();
      });
      print(meta, "", "");
    }
    return ExitCodes.OK;
  }

  /** At most this many lines of batches or chunks in the summary: the first and the last ones. */
  static final int SUMMARY_ITEMS = 20;

  /**
   * The typed summary, shortened to the first and last batches or chunks; none (with a warning on
   * stderr) when the metadata does not read as its type, so that the raw tree still shows.
   */
  private java.util.Optional<java.util.List<String>> summary(ObjectMeta meta) {
    java.util.List<String> lines;
    try {
      lines = ObjectSummary.of(meta).orElse(null);
    } catch (RuntimeException e) {
      root.err.println("vineyardctl: warning: " + meta.typename() + " " + meta.id() + " has malformed metadata ("
          + (e instanceof io.vineyard.VineyardException v ? v.reason() : e.toString()) + "); showing the raw tree");
      return java.util.Optional.empty();
    }
    if (lines == null) {
      return java.util.Optional.empty();
    }
    int first = java.util.stream.IntStream.range(0, lines.size())
        .filter(i -> lines.get(i).equals("batches:") || lines.get(i).equals("chunks:"))
        .findFirst().orElse(-1);
    int items = first < 0 ? 0 : lines.size() - first - 1;
    if (items <= SUMMARY_ITEMS) {
      return java.util.Optional.of(lines);
    }
    java.util.List<String> out = new java.util.ArrayList<>(lines.subList(0, first + 1 + SUMMARY_ITEMS / 2));
    out.add("  ... " + (items - SUMMARY_ITEMS) + " more ...");
    out.addAll(lines.subList(lines.size() - SUMMARY_ITEMS / 2, lines.size()));
    return java.util.Optional.of(out);
  }

  private void print(ObjectMeta m, String indent, String label) {
    root.out.println(indent + Escapes.printable(label) + m.id() + "  " + Escapes.printable(m.typename()) + "  " + MemorySize.format(m.nbytes())
        + "  instance " + m.instanceId() + (m.isGlobal() ? "  global" : ""));
    for (Map.Entry<String, Object> f : NaturalOrder.sorted(m.fields())) {
      String value = ObjectSummary.isEncodedSchema(f.getKey())
          ? "(Arrow IPC schema, base64, " + f.getValue().toString().length() + " characters)"
          : Json.value(f.getValue());
      root.out.println(indent + "    " + Escapes.printable(f.getKey()) + " = " + value);
    }
    for (Map.Entry<String, ObjectMeta> e : NaturalOrder.sorted(m.members())) {
      print(e.getValue(), indent + "    ", e.getKey() + ": ");
    }
  }
}
