package io.vineyard.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.IpcClient;
import io.vineyard.examples.BuildGraph;
import io.vineyard.examples.LoadPurchases;
import io.vineyard.examples.ReadFeatures;
import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walkthrough of docs/objects.md, as written: three JVMs, each starting from the object id the
 * previous one printed. The figures are checked against the purchases read directly.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class WalkthroughIT {

  @TempDir Path dir;

  private String step(Class<?> main, String... args) throws Exception {
    ChildJvm.Result r = ChildJvm.run(dir.resolve(main.getSimpleName() + ".log"), 90, main, args);
    assertEquals(0, r.exitCode(), r.output());
    return r.output();
  }

  private static String lastLine(String out) {
    return out.strip().lines().reduce((a, b) -> b).orElse("");
  }

  @Test
  void threeProcessesHandTheirResultsOnByObjectId() throws Exception {
    try (DaemonProcess daemon = DaemonProcess.start(dir, "256m")) {
      String socket = daemon.socket().toString();
      ObjectId purchases = ObjectId.parse(lastLine(step(LoadPurchases.class, socket, "20000")));
      ObjectId graph = ObjectId.parse(lastLine(step(BuildGraph.class, socket, purchases.toString())));
      String features = step(ReadFeatures.class, socket, graph.toString());

      double spent = 0;
      try (IpcClient client = daemon.connect(); DataFrame df = DataFrame.open(client, purchases)) {
        assertEquals(purchases, client.getName("purchases"));
        IntVector q = (IntVector) df.root().getVector("quantity");
        Float8Vector p = (Float8Vector) df.root().getVector("price");
        for (int i = 0; i < df.rowCount(); i++) {
          spent += q.get(i) * p.get(i);
        }
      }
      assertTrue(features.contains(String.format("purchases=20000 spent=%.2f", spent)), features);
      assertTrue(features.contains("top spender: user-"), features);
    }
  }
}
