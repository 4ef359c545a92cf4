package io.vineyard.examples;

import java.nio.file.Path;

/** The examples' command lines: the daemon's socket, and a usage line (exit status 2) when wrong. */
final class Args {

  private Args() {}

  /** The socket, {@code args[0]}; exits with the usage when there is none or more than {@code max} arguments. */
  static Path socket(String[] args, int max, String usage) {
    if (args.length < 1 || args.length > max) {
      usage(usage);
    }
    return Path.of(args[0]);
  }

  /** {@code args[i]} as a positive count, {@code otherwise} when absent; exits with the usage when not a count. */
  static long count(String[] args, int i, long otherwise, String usage) {
    if (args.length <= i) {
      return otherwise;
    }
    try {
      long n = Long.parseLong(args[i]);
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    usage(usage);
    return otherwise;
  }

  private static void usage(String usage) {
    System.err.println("usage: " + usage);
    System.exit(2);
  }
}
