package io.vineyard.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a main class in a separate JVM with this JVM's class path and the flags Vineyard needs.
 * A main class can be given by name, for classes this module cannot see (the daemon's).
 */
public final class ChildJvm {

  /**
   * The flags every Vineyard process needs (FFM downcalls, Arrow memory, and on newer JDKs quiet
   * protobuf), taken from this JVM, which the build started with them; plus a small-footprint GC.
   */
  public static final List<String> JVM_FLAGS = jvmFlags();

  private static List<String> jvmFlags() {
    List<String> flags = new ArrayList<>();
    for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--enable-native-access") || arg.startsWith("--add-opens") || arg.startsWith("--sun-misc")) {
        flags.add(arg);
      }
    }
    flags.add("-XX:+UseSerialGC");
    return List.copyOf(flags);
  }

  private ChildJvm() {}

  public static String javaBinary() {
    return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  /** Builds the command line for {@code mainClass} with {@code args}. */
  public static List<String> command(List<String> jvmArgs, Class<?> mainClass, List<String> args) {
    return command(jvmArgs, mainClass.getName(), args);
  }

  /** Builds the command line for the main class named {@code mainClass} with {@code args}. */
  public static List<String> command(List<String> jvmArgs, String mainClass, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(javaBinary());
    cmd.addAll(JVM_FLAGS);
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(args);
    return cmd;
  }

  /** Starts the JVM with stdout and stderr going to {@code log}. */
  public static Process start(Path log, List<String> jvmArgs, Class<?> mainClass, String... args) throws IOException {
    return start(log, jvmArgs, mainClass.getName(), args);
  }

  /**
   * Starts the JVM of the main class named {@code mainClass}, with stdout and stderr going to {@code
   * log}. It runs under {@link ParentWatch}: it ends when this JVM does, even when this one is killed.
   * Its standard input belongs to that watch: write nothing to it.
   */
  public static Process start(Path log, List<String> jvmArgs, String mainClass, String... args) throws IOException {
    List<String> watched = new ArrayList<>(args.length + 1);
    watched.add(mainClass);
    watched.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command(jvmArgs, ParentWatch.class.getName(), watched));
    pb.redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    return pb.start();
  }

  /** Runs the JVM to completion (bounded by {@code timeoutSeconds}) and returns its exit code and output. */
  public static Result run(Path log, long timeoutSeconds, Class<?> mainClass, String... args)
      throws IOException, InterruptedException {
    return run(log, timeoutSeconds, mainClass.getName(), args);
  }

  /** {@link #run(Path, long, Class, String...)} for the main class named {@code mainClass}. */
  public static Result run(Path log, long timeoutSeconds, String mainClass, String... args)
      throws IOException, InterruptedException {
    Process p = start(log, List.of(), mainClass, args);
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError(mainClass + " did not finish in " + timeoutSeconds + " s:\n" + Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log));
  }

  /** A finished child's exit code and combined output. */
  public record Result(int exitCode, String output) {}
}
