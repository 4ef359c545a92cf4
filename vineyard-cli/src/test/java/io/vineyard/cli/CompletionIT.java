package io.vineyard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code vineyardctl completion bash}, sourced by a real bash and asked what it would complete. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CompletionIT {

  @TempDir Path work;
  private Path script;

  @BeforeEach
  void writeScript() throws Exception {
    CtlRun r = CtlRun.run(new byte[0], "completion", "bash").ok();
    script = Files.writeString(work.resolve("vineyardctl.bash"), r.stdout());
  }

  /** What bash's completion of vineyardctl offers for the command line {@code line} (the cursor at its end). */
  private List<String> complete(String line) throws Exception {
    String program = String.join("\n",
        "source \"$1\"",
        "COMP_LINE=\"$2\"; COMP_POINT=${#COMP_LINE}",
        "read -r -a COMP_WORDS <<< \"$COMP_LINE\"",
        "[[ \"$COMP_LINE\" == *' ' ]] && COMP_WORDS+=('')",
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))",
        "complete -p vineyardctl > /dev/null", // the script registered itself for the command
        "_complete_vineyardctl 2> /dev/null",
        "printf '%s\\n' \"${COMPREPLY[@]}\"");
    Path out = work.resolve("out.txt");
    Process p = new ProcessBuilder("bash", "-c", program, "bash", script.toString(), line)
        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), line);
    assertEquals(0, p.exitValue(), () -> line + ": " + read(out));
    return Files.readAllLines(out).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

  @Test
  void commandsOptionsAndTheirValuesComplete() throws Exception {
    List<String> commands = complete("vineyardctl l");
    assertTrue(commands.containsAll(List.of("ls", "locate")), commands::toString);
    assertTrue(!commands.contains("put"), commands::toString);

    List<String> options = complete("vineyardctl ls --ty");
    assertEquals(List.of("--typename"), options);

    List<String> formats = complete("vineyardctl --output ");
    assertEquals(List.of("table", "json"), formats);

    // --format of put and get completes its own values, not --output's.
    assertEquals(List.of("blob", "csv", "arrow"), complete("vineyardctl put --format "));
    assertEquals(List.of("blob", "csv", "arrow"), complete("vineyardctl get --format "));

    List<String> shells = complete("vineyardctl completion ");
    assertTrue(shells.contains("bash"), shells::toString);
  }

  @Test
  void anUnknownShellIsAUsageError() {
    CtlRun r = CtlRun.run(new byte[0], "completion", "tcsh");
    assertEquals(ExitCodes.INVALID_ARGUMENT, r.code(), r::toString);
    assertTrue(r.stderr().contains("bash"), r::toString);
  }
}
