package io.vineyard.server;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.internal.Escapes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code vineyardd --config FILE}: the daemon's settings from a file. One {@code key = value} a line
 * ({@code key: value} works too; blank lines and lines starting with {@code #} are skipped), each key
 * a flag's long name without {@code --} ({@code size = 2Gi}, {@code reserve-memory = true}); the
 * value is the rest of the line, trimmed. The values are the flags' defaults, so a flag given on the
 * command line wins. A key that is no flag, a key set twice and a line that is no {@code key = value}
 * are refused with the line's number, so a typo does not silently leave a setting at its default.
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {

  private static final String FLAG = "--config";

  private final Map<String, String> values;

  private ConfigFile(Map<String, String> values) {
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
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + ": no such file");
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + ": cannot read it: " + e.getMessage(), e);
    }
    Map<String, String> values = parse(file, lines);
    Set<String> keys = spec.options().stream()
        .filter(o -> !o.usageHelp() && !o.versionHelp() && !o.longestName().equals(FLAG))
        .map(ConfigFile::key)
        .collect(Collectors.toCollection(TreeSet::new));
    List<String> unknown = values.keySet().stream().filter(k -> !keys.contains(k)).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + ": unknown "
          + (unknown.size() == 1 ? "key " : "keys ") + String.join(", ", unknown)
          + " (the keys are the flags without '--': " + String.join(", ", keys) + ")");
    }
    return new ConfigFile(values);
  }

  /**
   * The settings of the file's lines, in order.
   *
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} for a line that is no {@code key =
   *     value} (or {@code key: value}) and for a key set twice
   */
  static Map<String, String> parse(Path file, List<String> lines) {
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, Integer> lineOf = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      int colon = line.indexOf(':');
      int at = eq < 0 ? colon : colon < 0 ? eq : Math.min(eq, colon);
      String key = at < 0 ? "" : line.substring(0, at).strip();
      if (key.isEmpty() || key.chars().anyMatch(Character::isWhitespace)) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + " line " + (i + 1) + ": '"
            + Escapes.printable(line) + "' is not 'key = value' (such as 'size = 2Gi')");
      }
      Integer earlier = lineOf.putIfAbsent(key, i + 1);
      if (earlier != null) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "--config " + file + " line " + (i + 1) + ": "
            + key + " is already set on line " + earlier);
      }
      values.put(key, line.substring(at + 1).strip());
    }
    return values;
  }

  private static String key(OptionSpec option) {
    return option.longestName().substring(2);
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (arg instanceof OptionSpec option) {
      return values.get(key(option));
    }
    return null;
  }
}
