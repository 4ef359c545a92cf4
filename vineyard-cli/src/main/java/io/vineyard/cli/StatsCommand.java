package io.vineyard.cli;

import io.vineyard.InstanceInfo;
import io.vineyard.MemorySize;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.client.MetadataClient;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

@Command(
    name = "stats",
    mixinStandardHelpOptions = true,
    description = "Shows the daemon's capacity, memory in use and counts.",
    footer = {
      "",
      "Examples:",
      "  vineyardctl stats",
      "  vineyardctl stats --output json",
      "  vineyardctl stats --rpc node-2:9600",
      ""
    })
final class StatsCommand extends MetadataCommand {

  @Override
  protected int run(MetadataClient client) {
    StoreStats s = client.stats();
    String rpc = rpcEndpoint(client, s.instanceId());
    if (root.json()) {
      root.out.println("{\"instance_id\": " + s.instanceId()
          + ", \"rpc_endpoint\": " + Json.string(rpc)
          + ", \"capacity_bytes\": " + s.capacityBytes()
          + ", \"used_bytes\": " + s.usedBytes()
          + ", \"largest_free_bytes\": " + s.largestFreeBytes()
          + ", \"object_count\": " + s.objectCount()
          + ", \"blob_count\": " + s.blobCount()
          + ", \"unsealed_blob_count\": " + s.unsealedBlobCount()
          + ", \"pinned_blob_count\": " + s.pinnedBlobCount()
          + ", \"name_count\": " + s.nameCount()
          + ", \"client_count\": " + s.clientCount()
          + ", \"heap_used_bytes\": " + s.heapUsedBytes()
          + ", \"heap_max_bytes\": " + s.heapMaxBytes()
          + ", \"direct_memory_bytes\": " + s.directMemoryBytes()
          + ", \"spilled_bytes\": " + s.spilledBytes()
          + ", \"spilled_blob_count\": " + s.spilledBlobCount()
          + ", \"spill_writes\": " + s.spillWrites()
          + ", \"reloads\": " + s.reloads() + "}");
      return ExitCodes.OK;
    }
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"instance", Long.toString(s.instanceId())});
    rows.add(new String[] {"gRPC endpoint", rpc});
    rows.add(new String[] {"capacity", MemorySize.format(s.capacityBytes()) + " (" + s.capacityBytes() + " bytes)"});
    rows.add(new String[] {"used (resident)", MemorySize.format(s.usedBytes()) + " (" + s.usedBytes() + " bytes)"});
    rows.add(new String[] {"spilled", MemorySize.format(s.spilledBytes()) + " in " + s.spilledBlobCount() + " blobs ("
        + s.spillWrites() + " spills, " + s.reloads() + " reloads since start)"});
    rows.add(new String[] {"largest free block", MemorySize.format(s.largestFreeBytes())});
    rows.add(new String[] {"objects", Long.toString(s.objectCount())});
    rows.add(new String[] {"blobs", s.blobCount() + " (" + s.unsealedBlobCount() + " unsealed, " + s.pinnedBlobCount() + " pinned)"});
    rows.add(new String[] {"names", Long.toString(s.nameCount())});
    rows.add(new String[] {"clients", Long.toString(s.clientCount())});
    rows.add(new String[] {"daemon heap", MemorySize.format(s.heapUsedBytes()) + " of " + MemorySize.format(s.heapMaxBytes())
        + ", direct memory " + MemorySize.format(s.directMemoryBytes())});
    Table.print(root.out, rows);
    return ExitCodes.OK;
  }

  /**
   * The daemon's gRPC endpoint: not always the default port (a second daemon on a host with local
   * metadata takes a free one). Empty when the cluster view cannot be had (etcd down): the counters
   * are still worth printing.
   */
  private static String rpcEndpoint(MetadataClient client, long self) {
    try {
      return client.instances().stream()
          .filter(i -> i.id() == self).map(InstanceInfo::rpcEndpoint).findFirst().orElse("");
    } catch (VineyardException e) {
      return "";
    }
  }
}
