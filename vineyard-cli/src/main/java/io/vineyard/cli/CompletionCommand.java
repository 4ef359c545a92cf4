package io.vineyard.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(
    name = "completion",
    mixinStandardHelpOptions = true,
    description = {
      "Prints a shell script that completes vineyardctl's commands, options and their values.",
      "zsh runs it too, after: autoload -U +X bashcompinit && bashcompinit"
    },
    footer = {
      "",
      "Examples:",
      "  source <(vineyardctl completion bash)                           # this shell",
      "  vineyardctl completion bash > ~/.local/share/bash-completion/completions/vineyardctl",
      ""
    })
final class CompletionCommand implements Callable<Integer> {

  /** The shells there is a script for. */
  enum Shell { bash }

  @ParentCommand Vineyardctl root;

  @Spec CommandSpec spec;

  @Parameters(paramLabel = "SHELL", description = "bash.")
  Shell shell;

  @Override
  public Integer call() {
    root.out.print(AutoComplete.bash("vineyardctl", spec.root().commandLine()));
    root.out.flush();
    return ExitCodes.OK;
  }
}
