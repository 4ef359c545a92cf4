package io.vineyard.bench;

import io.vineyard.ObjectId;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The second process of the get-latency phase: connects to the daemon, and for each blob it is given
 * times {@code getBlob(id)} + reading one byte + {@code close()}, after untimed warm-up gets of
 * every blob (interleaved), then prints the percentiles as one JSON line on stdout.
 *
 * <p>Usage: {@code GetLatencyChild --socket PATH --blob LABEL=ID [--blob ...] --iterations N
 * --warmup W --max-seconds S}. The timed loop gets each blob in turn and stops after N rounds or S
 * seconds per blob, whichever comes first (but not before 10 rounds).
 */
public final class GetLatencyChild {

  private static final int MIN_SAMPLES = 10;

  private GetLatencyChild() {}

  private record Target(String label, ObjectId id) {}

  public static void main(String[] args) {
    Path socket = null;
    List<Target> targets = new ArrayList<>();
    int iterations = 1000;
    int warmup = 100;
    double maxSeconds = 10;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--socket" -> socket = Path.of(required(a, v));
        case "--blob" -> {
          String s = required(a, v);
          int eq = s.indexOf('=');
          if (eq <= 0) {
            usage("--blob takes LABEL=ID, got " + s);
          }
          targets.add(new Target(s.substring(0, eq), ObjectId.parse(s.substring(eq + 1))));
        }
        case "--iterations" -> iterations = Integer.parseInt(required(a, v));
        case "--warmup" -> warmup = Integer.parseInt(required(a, v));
        case "--max-seconds" -> maxSeconds = Double.parseDouble(required(a, v));
        default -> usage("unknown argument " + a);
      }
      i++;
    }
    if (socket == null || targets.isEmpty() || iterations < 1) {
      usage("--socket, at least one --blob and a positive --iterations are required");
    }

    Map<String, Object> out = new LinkedHashMap<>();
    long sink = 0;
    try (IpcClient client = IpcClient.connect(socket, Duration.ofSeconds(60), "bench-get-child")) {
      out.put("child_pid", ProcessHandle.current().pid());
      // Warm-up first, interleaved over every blob, so that no size is measured on colder code.
      long warmDeadline = System.nanoTime() + (long) (maxSeconds * 0.25e9 * targets.size());
      for (int i = 0; i < warmup && System.nanoTime() < warmDeadline; i++) {
        for (Target t : targets) {
          sink += getOnce(client, t.id);
        }
      }
      // Timed: the blobs take turns (in alternating order), so every size sees the same conditions.
      int n = targets.size();
      Samples[] total = new Samples[n];
      Samples[] get = new Samples[n];
      Samples[] close = new Samples[n];
      for (int k = 0; k < n; k++) {
        total[k] = new Samples(iterations);
        get[k] = new Samples(iterations);
        close[k] = new Samples(iterations);
      }
      long deadline = System.nanoTime() + (long) (maxSeconds * 1e9 * n);
      for (int i = 0; i < iterations && (i < MIN_SAMPLES || System.nanoTime() < deadline); i++) {
        for (int j = 0; j < n; j++) {
          int k = (i & 1) == 0 ? j : n - 1 - j;
          long t0 = System.nanoTime();
          Blob b = client.getBlob(targets.get(k).id);
          sink += b.size() == 0 ? 0 : b.segment().get(ValueLayout.JAVA_BYTE, b.size() - 1);
          long t1 = System.nanoTime();
          b.close();
          long t2 = System.nanoTime();
          total[k].add(t2 - t0);
          get[k].add(t1 - t0);
          close[k].add(t2 - t1);
        }
      }
      for (int k = 0; k < n; k++) {
        String label = targets.get(k).label;
        Samples s = total[k];
        out.put("get_p50_us_" + label, s.percentile(50) / 1e3);
        out.put("get_p90_us_" + label, s.percentile(90) / 1e3);
        out.put("get_p99_us_" + label, s.percentile(99) / 1e3);
        out.put("get_mean_us_" + label, s.mean() / 1e3);
        out.put("get_min_us_" + label, s.min() / 1e3);
        out.put("get_max_us_" + label, s.max() / 1e3);
        out.put("get_samples_" + label, s.count());
        out.put("get_p50_us_getblob_part_" + label, get[k].percentile(50) / 1e3);
        out.put("get_p50_us_close_part_" + label, close[k].percentile(50) / 1e3);
      }
    }
    out.put("sink", sink & 0xff);
    System.out.println(Json.writeLine(out));
    System.out.flush();
  }

  /** One get: pin, read the blob's last byte through the mapping, release. */
  private static long getOnce(IpcClient client, ObjectId id) {
    try (Blob b = client.getBlob(id)) {
      return b.size() == 0 ? 0 : b.segment().get(ValueLayout.JAVA_BYTE, b.size() - 1);
    }
  }

  private static String required(String flag, String value) {
    if (value == null) {
      usage(flag + " needs a value");
    }
    return value;
  }

  private static void usage(String why) {
    System.err.println("GetLatencyChild: " + why);
    System.err.println(
        "usage: GetLatencyChild --socket PATH --blob LABEL=ID [--blob ...] --iterations N --warmup W --max-seconds S");
    System.exit(2);
  }
}
