package io.vineyard.cli;

import io.vineyard.MemorySize;
import io.vineyard.client.IpcClient;
import io.vineyard.client.TrimResult;
import picocli.CommandLine.Command;

@Command(
    name = "trim",
    mixinStandardHelpOptions = true,
    description = {
      "Gives the pages of the daemon's free shared memory back to the system: memory that blobs held and that"
          + " deletes freed stays in the region file (tmpfs memory, charged to whoever wrote it: free -m shows it as"
          + " shared) until then. Also returns the daemon's unused heap (a full collection, at most one every 10 s)"
          + " and malloc's free memory; the resident set after is read once it has settled.",
      "Blobs are not touched. A blob created later in trimmed space writes into fresh pages, which is slower the first"
          + " time. The daemon trims by itself once --trim-after bytes have been freed (not with --reserve-memory)."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl trim",
      "  vineyardctl trim --output json",
      ""
    })
final class TrimCommand extends ClientCommand {

  @Override
  protected int run(IpcClient client) {
    TrimResult t = client.trim();
    if (root.json()) {
      root.out.println("{\"released_bytes\": " + t.releasedBytes() + ", \"rss_before_bytes\": " + t.rssBeforeBytes()
          + ", \"rss_after_bytes\": " + t.rssAfterBytes() + "}");
    } else {
      root.out.println("released the pages of the " + MemorySize.format(t.releasedBytes()) + " of free shared memory (those"
          + " that held data); daemon resident set "
          + MemorySize.format(t.rssBeforeBytes()) + " -> " + MemorySize.format(t.rssAfterBytes()));
    }
    return ExitCodes.OK;
  }
}
