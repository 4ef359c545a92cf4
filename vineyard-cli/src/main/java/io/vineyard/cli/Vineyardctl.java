package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.MetadataClient;
import io.vineyard.client.RpcClient;
import io.vineyard.internal.Escapes;
import io.vineyard.internal.Libc;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code vineyardctl}: put, get, list, inspect and delete objects of a Vineyard daemon; list the
 * cluster's instances, persist, locate and migrate objects.
 */
@Command(
    name = "vineyardctl",
    mixinStandardHelpOptions = true,
    versionProvider = Vineyardctl.Version.class,
    sortOptions = false,
    description = {
      "Puts, gets, lists, inspects and deletes objects in a Vineyard daemon; with cluster metadata (etcd),"
          + " lists the daemons, persists objects, locates them and migrates them to this node.",
      "ls, inspect, instances, locate and stats also work against a remote daemon's gRPC port (--rpc).%n"
    },
    subcommands = {
      PutCommand.class,
      GetCommand.class,
      LsCommand.class,
      InspectCommand.class,
      RmCommand.class,
      GcCommand.class,
      NameCommand.class,
      StatsCommand.class,
      TrimCommand.class,
      InstancesCommand.class,
      PersistCommand.class,
      LocateCommand.class,
      MigrateCommand.class,
      CompletionCommand.class,
      CommandLine.HelpCommand.class
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl put data.bin --name training-set",
      "  vineyardctl get training-set -o copy.bin",
      "  vineyardctl ls --typename 'vineyard::*' --output json",
      "  vineyardctl persist training-set",
      "  vineyardctl --rpc node-2:9600 ls --global",
      "  vineyardctl migrate training-set",
      "  vineyardctl gc --older-than 1h --dry-run",
      "",
      "Exit status: 0 ok, 1 other error, 2 invalid argument, 3 not found,",
      "4 cannot connect (to the daemon, or it to etcd or a peer), 5 out of memory,",
      "6 not authenticated (a token or certificate the gRPC port refused).",
      ""
    })
public final class Vineyardctl implements Runnable {

  /** How results are printed. */
  public enum Output { table, json }

  @Option(
      names = "--socket",
      scope = ScopeType.INHERIT,
      paramLabel = "PATH",
      description = "The daemon's socket (default: $VINEYARD_IPC_SOCKET, else /var/run/vineyard.sock for root,"
          + " ~/.local/vineyard/vineyard.sock for others).")
  Path socket;

  @Option(
      names = "--rpc",
      scope = ScopeType.INHERIT,
      paramLabel = "HOST:PORT",
      description = "Ask the daemon at this gRPC endpoint instead of the local socket (only ls, inspect, instances,"
          + " locate and stats).")
  String rpc;

  @Option(
      names = "--token-file",
      scope = ScopeType.INHERIT,
      paramLabel = "FILE",
      description = "With --rpc: send the first token in this file. Default: a daemon on this host is asked with"
          + " the token it wrote next to its socket (<socket>.token), if this user may read it.")
  Path tokenFile;

  @Option(
      names = "--tls-ca",
      scope = ScopeType.INHERIT,
      paramLabel = "PEM",
      description = "With --rpc: speak TLS, trusting the CA certificates in this file.")
  Path tlsCa;

  @Option(
      names = "--tls-cert",
      scope = ScopeType.INHERIT,
      paramLabel = "PEM",
      description = "With --rpc and --tls-key: present this client certificate (for a daemon with --tls-client-ca).")
  Path tlsCert;

  @Option(
      names = "--tls-key",
      scope = ScopeType.INHERIT,
      paramLabel = "PEM",
      description = "The private key (PKCS#8 PEM) of --tls-cert.")
  Path tlsKey;

  @Option(
      names = "--output",
      scope = ScopeType.INHERIT,
      paramLabel = "STYLE", // not FORMAT: the completion script names its value lists by label, and --format has its own
      defaultValue = "table",
      description = "table or json. Default: ${DEFAULT-VALUE}.")
  Output output;

  @Option(
      names = {"-v", "--verbose"},
      scope = ScopeType.INHERIT,
      description = "Print timings, and stack traces on errors.")
  boolean verbose;

  @Spec CommandSpec spec;

  final InputStream in;
  final PrintStream out;
  final PrintStream err;
  /** Raw bytes to standard output (object contents), bypassing the text layer. */
  final WritableByteChannel rawOut;
  /** Standard output's descriptor when it is the process's own (for in-kernel copies), else -1. */
  final int stdoutFd;
  /** Asked only by commands that show progress: the answer costs a native call at start-up. */
  private final BooleanSupplier stderrTerminal;

  Vineyardctl(
      InputStream in, PrintStream out, PrintStream err, WritableByteChannel rawOut, int stdoutFd, BooleanSupplier stderrTerminal) {
    this.in = in;
    this.out = out;
    this.err = err;
    this.rawOut = rawOut;
    this.stdoutFd = stdoutFd;
    this.stderrTerminal = stderrTerminal;
  }

  /** Whether standard error is a terminal (progress is drawn there only then). */
  boolean stderrIsTerminal() {
    return stderrTerminal.getAsBoolean();
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (see vineyardctl --help)");
  }

  /** The local daemon, over its socket. */
  IpcClient connect() {
    return connect(false);
  }

  /** The local daemon, over its socket; with {@code metadataOnly}, a client that cannot map blobs. */
  IpcClient connect(boolean metadataOnly) {
    Path path = socket != null ? socket : IpcClient.defaultSocket();
    try {
      IpcClient.Builder b = IpcClient.builder().socket(path);
      return (metadataOnly ? b.metadataOnly() : b).connect();
    } catch (VineyardException e) {
      String kind = e.code() == ErrorCode.UNAVAILABLE ? notASocket(path) : null;
      if (kind != null) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, path + " is " + kind + ", not a socket: give the daemon's socket (vineyardd --socket)", e);
      }
      throw e;
    }
  }

  /** What the file at {@code path} is ("a directory") when it exists and is not a socket, else null. */
  private static String notASocket(Path path) {
    int type;
    try {
      type = (int) Files.getAttribute(path, "unix:mode") & 0170000;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return null; // missing, or nothing to tell: the connection error says enough
    }
    return switch (type) {
      case 0140000 -> null;
      case 0040000 -> "a directory";
      case 0100000 -> "a regular file";
      default -> "a device or FIFO";
    };
  }

  /** The daemon that read-only commands ask: the one at {@code --rpc} if given, else the local one. */
  MetadataClient connectMetadata() {
    if (rpc == null) {
      return connect(true);
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together");
    }
    RpcClient.Builder b = RpcClient.builder(rpc);
    if (tlsCa != null) {
      b.trust(tlsCa);
    }
    if (tlsCert != null) {
      b.clientCertificate(tlsCert, tlsKey);
    }
    if (tokenFile != null) {
      b.tokenFile(tokenFile);
    }
    return b.build();
  }

  boolean json() {
    return output == Output.json;
  }

  /**
   * Runs the tool as the shell would, without exiting: the entry point for tests.
   *
   * @return the exit status
   */
  public static int run(InputStream in, OutputStream out, OutputStream err, String... args) {
    PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
    return run(in, o, new PrintStream(err, true, StandardCharsets.UTF_8), Channels.newChannel(o), -1, false, args);
  }

  static int run(
      InputStream in,
      PrintStream out,
      PrintStream err,
      WritableByteChannel rawOut,
      int stdoutFd,
      boolean terminal,
      String... args) {
    return run(in, out, err, rawOut, stdoutFd, () -> terminal, args);
  }

  private static int run(
      InputStream in,
      PrintStream out,
      PrintStream err,
      WritableByteChannel rawOut,
      int stdoutFd,
      BooleanSupplier terminal,
      String... args) {
    Vineyardctl root = new Vineyardctl(in, out, err, rawOut, stdoutFd, terminal);
    CommandLine cl = new CommandLine(root);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> root.fail(ex));
    cl.setParameterExceptionHandler(
        (ex, params) -> {
          // One line that says what is wrong, one that says where to look; not the whole usage.
          CommandLine cmd = ex.getCommandLine();
          err.println("vineyardctl: " + usageProblem(ex));
          List<String> like = ex instanceof CommandLine.UnmatchedArgumentException u ? suggestions(u) : List.of();
          if (!like.isEmpty()) {
            err.println("Did you mean: " + String.join(" or ", like) + "?");
          }
          err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more.");
          return ExitCodes.INVALID_ARGUMENT;
        });
    int code = cl.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  /** picocli's message, except that a word that is no command says so. */
  private static String usageProblem(CommandLine.ParameterException ex) {
    if (ex instanceof CommandLine.UnmatchedArgumentException u
        && ex.getCommandLine().getCommandSpec().parent() == null
        && !u.getUnmatched().isEmpty()
        && !u.getUnmatched().getFirst().startsWith("-")) {
      return "unknown command '" + u.getUnmatched().getFirst() + "'";
    }
    return ex.getMessage();
  }

  /**
   * For an unknown command, the commands it is a prefix of or a typo of (one letter changed, added,
   * dropped or swapped with the next; two in words of five letters or more); for an unknown option,
   * picocli's own suggestions.
   */
  private static List<String> suggestions(CommandLine.UnmatchedArgumentException u) {
    CommandLine cmd = u.getCommandLine();
    if (cmd.getCommandSpec().parent() != null || u.getUnmatched().isEmpty() || u.getUnmatched().getFirst().startsWith("-")) {
      return u.getSuggestions();
    }
    String word = u.getUnmatched().getFirst();
    int allowed = word.length() <= 4 ? 1 : 2;
    return cmd.getSubcommands().keySet().stream()
        .filter(name -> (word.length() >= 2 && name.startsWith(word)) || typos(word, name) <= allowed)
        .toList();
  }

  /** Edits (insert, delete, replace, swap two neighbours) from {@code a} to {@code b}. */
  static int typos(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      for (int j = 0; j <= b.length(); j++) {
        if (i == 0 || j == 0) {
          d[i][j] = i + j;
          continue;
        }
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }

  /** Reports a failure as one line (with the stack trace under --verbose) and picks the exit status. */
  private int fail(Exception ex) {
    Throwable t = ex instanceof UncheckedIOException u ? u.getCause() : ex;
    int code;
    String message;
    if (t instanceof VineyardException ve) {
      code = ExitCodes.of(ve.code());
      message = ve.reason();
    } else if (t instanceof IOException io) {
      code = ExitCodes.OTHER;
      message = "I/O error: " + io.getMessage();
    } else {
      code = ExitCodes.OTHER;
      message = "internal error: " + t;
    }
    err.println("vineyardctl: " + Escapes.printable(message));
    if (verbose) {
      t.printStackTrace(err);
    }
    return code;
  }

  /**
   * gRPC logs through java.util.logging, which by default prints warnings with stack traces on
   * stderr (an unresolvable --rpc host, for one) on top of the one-line error the tool prints. Only
   * its severe messages are kept. Held here because JUL keeps loggers only weakly.
   */
  private static final Logger GRPC_LOG = Logger.getLogger("io.grpc");

  public static void main(String[] args) {
    System.exit(runOnStandardStreams(args));
  }

  /** Runs one command on the process's standard streams, as {@link #main} does, and returns its status. */
  @SuppressWarnings("resource") // the standard streams stay open for the life of the process
  static int runOnStandardStreams(String... args) {
    GRPC_LOG.setLevel(Level.SEVERE);
    FileOutputStream stdout = new FileOutputStream(FileDescriptor.out);
    // Text is UTF-8 whatever the locale, so names and metadata print as they are.
    PrintStream out = new PrintStream(stdout, false, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
    try {
      return run(System.in, out, err, stdout.getChannel(), 1, () -> Libc.isatty(2), args);
    } catch (OutOfMemoryError e) {
      // An answer too large for this JVM's heap (a tree of a million objects, say): one line, not a
      // stack trace; what held the memory is unreachable by now.
      out.flush();
      err.println("vineyardctl: ran out of memory holding the daemon's answer (" + e.getMessage() + "): give the tool more"
          + " heap (VINEYARDCTL_JAVA_OPTS=-Xmx2g) or ask for less (--limit or --typename for ls)");
      return ExitCodes.OUT_OF_MEMORY;
    }
  }

  /** The tool's version, from the jar manifest when built. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Vineyardctl.class.getPackage().getImplementationVersion();
      return new String[] {"vineyardctl " + (v != null ? v : "dev")};
    }
  }
}
