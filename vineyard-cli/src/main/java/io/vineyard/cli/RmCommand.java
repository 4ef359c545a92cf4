package io.vineyard.cli;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "rm",
    mixinStandardHelpOptions = true,
    description = {
      "Deletes objects, with their members that no other object uses, and prints the ids deleted. Memory that a"
          + " client still holds is freed when it lets go.",
      "An object that another object uses as a member is only deleted with --force, which deletes the users too."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl rm o8000000000000001",
      "  vineyardctl rm my-table",
      "  vineyardctl rm my-table --keep-members",
      ""
    })
final class RmCommand extends ClientCommand {

  @Parameters(paramLabel = "ID|NAME", arity = "1..*", description = "Objects to delete, by id or name.")
  List<String> refs;

  @Option(names = "--keep-members", description = "Delete only the objects named, not their members.")
  boolean keepMembers;

  /** The default since members go with their object; still accepted, as scripts give it. */
  @Option(names = "--deep", hidden = true)
  boolean deep;

  @Option(names = "--force", description = "Delete even objects that other objects use, and those objects too.")
  boolean force;

  @Override
  protected boolean needsBlobs() {
    return false;
  }

  @Override
  protected int run(IpcClient client) {
    List<ObjectId> ids = new ArrayList<>();
    for (String ref : refs) {
      ids.add(resolveLocal(client, ref));
    }
    List<ObjectId> deleted = client.delete(ids, force, !keepMembers);
    if (root.json()) {
      root.out.println("{\"deleted\": " + Json.strings(deleted.stream().map(ObjectId::toString).toList()) + "}");
    } else {
      deleted.forEach(root.out::println);
    }
    return ExitCodes.OK;
  }
}
