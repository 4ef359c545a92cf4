package io.vineyard.server;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code vineyardd --config FILE}: the daemon's settings from a file. One {@code key = value} a line
 * (Java properties syntax: {@code #} comments, {@code key: value} works too), each key a flag's long
 * name without {@code --} ({@code size = 2Gi}, {@code reserve-memory = true}). The values are the
 * flags' defaults, so a flag given on the command line wins. A key that is no flag is refused, so a
 * typo does not silently leave a setting at its default.
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {

  private static final String FLAG = "--config";

  private final Properties values;

  private ConfigFile(Properties values) {
    this.values = values;
  }

  /** The file named by {@code --config FILE} or {@code --config=FILE} in {@code args}, or null. */
  static Path pathIn(String[] args) {
    Path found = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals(FLAG)) {
        if (i + 1 == args.length) {
          return null; // picocli reports the missing value
        }
        found = Path.of(args[++i]);
      } else if (args[i].startsWith(FLAG + "=")) {
        found = Path.of(args[i].substring(FLAG.length() + 1));
      }
    }
    return found;
  }

  /**
   * Reads {@code file} and checks its keys against the options of {@code spec}.
   *
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} when it cannot be read or has an unknown key
   */
  static ConfigFile load(Path file, CommandSpec spec) {
    Properties values = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      values.load(r);
    } catch (NoSuchFileException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + ": no such file");
    } catch (IOException | IllegalArgumentException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + ": cannot read it: " + e.getMessage(), e);
    }
    Set<String> keys = spec.options().stream()
        .filter(o -> !o.usageHelp() && !o.versionHelp() && !o.longestName().equals(FLAG))
        .map(ConfigFile::key)
        .collect(Collectors.toCollection(TreeSet::new));
    List<String> unknown = values.stringPropertyNames().stream().filter(k -> !keys.contains(k)).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + ": unknown "
          + (unknown.size() == 1 ? "key " : "keys ") + String.join(", ", unknown)
          + " (the keys are the flags without '--': " + String.join(", ", keys) + ")");
    }
    return new ConfigFile(values);
  }

  private static String key(OptionSpec option) {
    return option.longestName().substring(2);
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (arg instanceof OptionSpec option) {
      String v = values.getProperty(key(option));
      return v == null ? null : v.trim();
    }
    return null;
  }
}
