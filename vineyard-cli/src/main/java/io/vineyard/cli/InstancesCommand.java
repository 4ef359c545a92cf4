package io.vineyard.cli;

import io.vineyard.InstanceInfo;
import io.vineyard.MemorySize;
import io.vineyard.client.MetadataClient;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

@Command(
    name = "instances",
    mixinStandardHelpOptions = true,
    description = {
      "Lists the daemons of the cluster: instance id, host, socket, gRPC endpoint, shared memory used and capacity,"
          + " and when each started.",
      "With local metadata that is the daemon itself. Memory in use is as of each daemon's last heartbeat."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl instances",
      "  vineyardctl instances --output json",
      "  vineyardctl instances --rpc node-2:9600",
      ""
    })
final class InstancesCommand extends MetadataCommand {

  @Override
  protected int run(MetadataClient client) {
    List<InstanceInfo> instances = client.instances();
    if (root.json()) {
      StringBuilder b = new StringBuilder("[");
      for (InstanceInfo i : instances) {
        b.append(b.length() > 1 ? ",\n  " : "\n  ")
            .append("{\"instance_id\": ").append(i.id())
            .append(", \"hostname\": ").append(Json.string(i.hostname()))
            .append(", \"ipc_socket\": ").append(Json.string(i.ipcSocket()))
            .append(", \"rpc_endpoint\": ").append(Json.string(i.rpcEndpoint()))
            .append(", \"used_bytes\": ").append(i.usedBytes())
            .append(", \"capacity_bytes\": ").append(i.capacityBytes())
            .append(", \"started_at\": ").append(i.startedAt() != null ? Json.string(started(i.startedAt())) : "null")
            .append(", \"daemon_version\": ").append(Json.string(i.daemonVersion()))
            .append('}');
      }
      root.out.println(b.append(instances.isEmpty() ? "]" : "\n]"));
      return ExitCodes.OK;
    }
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"ID", "HOST", "SOCKET", "RPC", "USED", "CAPACITY", "STARTED"});
    for (InstanceInfo i : instances) {
      rows.add(new String[] {
        Long.toString(i.id()),
        orDash(i.hostname()),
        orDash(i.ipcSocket()),
        orDash(i.rpcEndpoint()),
        MemorySize.format(i.usedBytes()),
        MemorySize.format(i.capacityBytes()),
        i.startedAt() != null ? started(i.startedAt()) : "-"
      });
    }
    Table.print(root.out, rows);
    return ExitCodes.OK;
  }

  /** ISO-8601 in UTC, to the second: {@code 2025-06-01T09:30:12Z}. */
  private static String started(Instant t) {
    return t.truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** An empty cell would shift the columns after it for anyone splitting on blanks. */
  static String orDash(String s) {
    return s == null || s.isEmpty() ? "-" : s;
  }
}
