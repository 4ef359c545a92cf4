package io.vineyard.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The training run of the AOT cache that {@code bin/vineyardctl} starts from (built by {@code mvn
 * package}, see {@code vineyard-cli/aot-train.sh}): the commands users run most, one after another
 * in one JVM, against a real daemon, so the cache holds the classes of a whole command (parsing the
 * reply, printing the table), not only those up to the connection.
 *
 * <p>Not a command users run. Arguments: the daemon's socket and a scratch directory; with no socket
 * (no daemon could be started) only {@code ls} runs, and fails to connect.
 */
final class AotTraining {

  private AotTraining() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      Vineyardctl.runOnStandardStreams("--socket", "/nonexistent/vineyard-aot-training.sock", "ls");
      System.exit(0);
    }
    String socket = args[0];
    Path dir = Path.of(args[1]);
    Path in = Files.write(dir.resolve("training.bin"), new byte[64 << 10]);
    Path copy = dir.resolve("training.copy");
    List<String[]> commands = new ArrayList<>();
    commands.add(new String[] {"put", in.toString(), "--name", "aot-training"});
    commands.add(new String[] {"ls"});
    commands.add(new String[] {"ls", "--output", "json"});
    commands.add(new String[] {"inspect", "aot-training"});
    commands.add(new String[] {"stats"});
    commands.add(new String[] {"get", "aot-training", "-o", copy.toString()});
    commands.add(new String[] {"rm", "aot-training"});
    for (String[] c : commands) {
      String[] full = new String[c.length + 2];
      full[0] = "--socket";
      full[1] = socket;
      System.arraycopy(c, 0, full, 2, c.length);
      if (Vineyardctl.runOnStandardStreams(full) != 0) {
        System.err.println("aot training: " + String.join(" ", c) + " failed");
      }
    }
    // A failed command still leaves a valid cache (of fewer classes); the build log shows which.
    System.exit(0);
  }
}
