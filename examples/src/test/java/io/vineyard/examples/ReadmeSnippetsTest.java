package io.vineyard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.testing.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README shows this module's code, not a copy that drifts: every region of the examples marked
 * {@code README: <name>} ... {@code README: end} (and the dependencies in pom.xml) is in one of the
 * README's code blocks, as it is here but for the indentation. So is the JVM's flag line.
 */
class ReadmeSnippetsTest {

  private static final Path MODULE = Path.of(System.getProperty("user.dir"));
  private static final Pattern FENCE = Pattern.compile("(?ms)^```[a-z]*\\n(.*?)^```");
  private static final Pattern REGION =
      Pattern.compile("(?ms)^[ \\t]*(?://|<!--) README: (\\w+)(?: -->)?\\n(.*?)^[ \\t]*(?://|<!--) README: end");

  private static List<String> readmeBlocks() throws IOException {
    String readme = Files.readString(MODULE.getParent().resolve("README.md"));
    List<String> blocks = new ArrayList<>();
    Matcher m = FENCE.matcher(readme);
    while (m.find()) {
      blocks.add(m.group(1));
    }
    return blocks;
  }

  /** The regions of {@code file}, each without the indentation its lines share. */
  private static List<String> regions(Path file) throws IOException {
    List<String> out = new ArrayList<>();
    Matcher m = REGION.matcher(Files.readString(file));
    while (m.find()) {
      out.add(dedent(m.group(2)));
    }
    return out;
  }

  /** {@code text} without the indentation its non-blank lines share (String.stripIndent counts a blank last line). */
  private static String dedent(String text) {
    List<String> lines = text.lines().toList();
    int indent = lines.stream().filter(l -> !l.isBlank())
        .mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
    StringBuilder out = new StringBuilder();
    for (String l : lines) {
      out.append(l.isBlank() ? "" : l.substring(indent).stripTrailing()).append('\n');
    }
    return out.toString();
  }

  @Test
  void everyMarkedRegionIsInTheReadmeAsItIsHere() throws IOException {
    List<Path> sources;
    try (Stream<Path> s = Files.list(MODULE.resolve("src/main/java/io/vineyard/examples"))) {
      sources = new ArrayList<>(s.sorted().toList());
    }
    sources.add(MODULE.resolve("pom.xml"));
    List<String> blocks = readmeBlocks();
    int found = 0;
    for (Path source : sources) {
      for (String region : regions(source)) {
        found++;
        assertTrue(blocks.stream().anyMatch(b -> b.contains(region)),
            () -> "README.md has no code block with this region of " + source.getFileName() + ":\n" + region);
      }
    }
    assertEquals(4, found, "regions: write, read, dataframe, dependencies");
  }

  @Test
  void theReadmeGivesTheJvmFlagsTheExamplesRunWith() throws IOException {
    List<String> flags = ChildJvm.JVM_FLAGS.stream().filter(f -> f.startsWith("--")).toList();
    assertFalse(flags.isEmpty());
    String line = String.join(" ", flags);
    assertTrue(readmeBlocks().stream().anyMatch(b -> b.contains(line)), "README.md does not give: " + line);
  }
}
