package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vineyard.testing.DaemonProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two daemons with local metadata on one host, neither given a gRPC port: both start, and
 * {@code stats} says where each one's gRPC port is, which {@code --rpc} then reaches.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DefaultRpcPortIT {

  @TempDir Path work;

  @Test
  void aSecondDaemonStartsAndStatsShowsWhereItsGrpcPortIs() throws Exception {
    try (DaemonProcess first = DaemonProcess.startOnDefaultRpcPort(Files.createDirectory(work.resolve("a")), "16Mi");
        DaemonProcess second = DaemonProcess.startOnDefaultRpcPort(Files.createDirectory(work.resolve("b")), "16Mi")) {
      String a = first.info().rpcEndpoint();
      String b = second.info().rpcEndpoint();
      assertNotEquals(a, b);

      CtlRun table = CtlRun.run(new byte[0], "--socket", second.socket().toString(), "stats").ok();
      assertTrue(table.lines().stream().anyMatch(l -> l.matches("gRPC endpoint +" + b)), table::toString);

      CtlRun json = CtlRun.run(new byte[0], "--socket", second.socket().toString(), "stats", "--output", "json").ok();
      JsonNode stats = new ObjectMapper().readTree(json.stdout());
      assertEquals(b, stats.get("rpc_endpoint").asText(), json::toString);

      CtlRun remote = CtlRun.run(new byte[0], "--rpc", b, "stats", "--output", "json").ok();
      assertEquals(b, new ObjectMapper().readTree(remote.stdout()).get("rpc_endpoint").asText(), remote::toString);
    }
  }
}
