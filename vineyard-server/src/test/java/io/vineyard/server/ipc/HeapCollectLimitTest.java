package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The full collections trims ask for are rationed: a client looping on trim gets at most one per interval. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HeapCollectLimitTest {

  @Test
  void aSecondCollectionWithinTheIntervalIsSkipped() {
    assertTrue(IpcHandler.collectHeapAtMostEvery(0), "with no interval, it runs");
    for (int i = 0; i < 100; i++) {
      assertFalse(IpcHandler.collectHeapAtMostEvery(IpcHandler.HEAP_COLLECT_INTERVAL_NANOS), "ran again at " + i);
    }
  }
}
