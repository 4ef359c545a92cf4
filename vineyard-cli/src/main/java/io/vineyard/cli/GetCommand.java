package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.Libc;
import io.vineyard.objects.DataFrame;
import io.vineyard.objects.ObjectTypes;
import io.vineyard.objects.Table;
import io.vineyard.objects.TableFiles;
import io.vineyard.objects.VineyardObject;
import io.vineyard.objects.csv.CsvOptions;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.function.LongConsumer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "get",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a blob's bytes to FILE, or to standard output.",
      "With --format arrow or csv, writes a table (vineyard::Table or vineyard::DataFrame) instead: as a standard"
          + " Arrow IPC file, which any Arrow implementation reads, or as CSV with a header line."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl get o8000000000000001 -o model.bin",
      "  vineyardctl get features | wc -c",
      "  vineyardctl get purchases --format arrow -o purchases.arrow",
      "  vineyardctl get purchases --format csv | head",
      ""
    })
final class GetCommand extends ClientCommand {

  @Parameters(paramLabel = "ID|NAME", description = "The object's id or a name bound to it.")
  String ref;

  @Option(
      names = {"-o", "--out"},
      paramLabel = "FILE",
      description = "Write here instead of standard output. A regular file appears complete or not at all; a device"
          + " or FIFO is written into as it is. Binary output (a blob, --format arrow) is not written to a terminal"
          + " unless this is -.")
  Path target;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      description = "blob (the default: a blob's bytes), arrow (an Arrow IPC file) or csv, for a table.")
  TableFormat format = TableFormat.blob;

  @Option(names = "--delimiter", paramLabel = "CHAR", description = Delimiter.HELP)
  String delimiter = ",";

  @Override
  protected int run(IpcClient client) throws IOException {
    long start = System.nanoTime();
    ObjectId id = resolveLocal(client, ref);
    if (format != TableFormat.blob) {
      return getTable(client, id, start);
    }
    if (!id.isBlob()) {
      String typename = client.getMeta(id).typename();
      boolean table = typename.equals(Table.TYPENAME) || typename.equals(DataFrame.TYPENAME);
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          id + " is a " + typename + ", not a blob; "
              + (table ? "--format arrow or --format csv writes it as a table" : "'vineyardctl inspect " + ref + "' shows its members"));
    }
    long size;
    try (Blob blob = client.getBlob(id)) {
      size = blob.size();
      refuseTerminal("the blob's " + MemorySize.format(size));
      if (target == null || target.toString().equals("-")) {
        root.out.flush();
        try {
          if (root.stdoutFd < 0 || !send(blob, root.stdoutFd)) {
            write(blob, root.rawOut);
          }
        } catch (IOException | VineyardException e) {
          if (!isBrokenPipe(e)) {
            throw e;
          }
          // The reader went away (e.g. `| head`): like other tools, stop quietly.
          return ExitCodes.OK;
        }
      } else {
        writeFile(blob, target);
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    verbose("read %s in %.3f s (%.2f GB/s)", MemorySize.format(size), seconds, size / seconds / 1e9);
    return ExitCodes.OK;
  }

  /** Writes a DataFrame or Table as an Arrow IPC file or as CSV. */
  private int getTable(IpcClient client, ObjectId id, long start) throws IOException {
    ObjectMeta meta = client.getMeta(id);
    if (!meta.typename().equals(Table.TYPENAME) && !meta.typename().equals(DataFrame.TYPENAME)) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          id + " is a " + meta.typename() + "; --format " + format + " writes a " + Table.TYPENAME + " or " + DataFrame.TYPENAME);
    }
    if (format == TableFormat.arrow) {
      refuseTerminal("an Arrow IPC file");
    }
    try (VineyardObject table = ObjectTypes.defaults().open(client, meta, VineyardObject.class, ObjectTypes.defaultAllocator());
        Progress progress = new Progress(root.err, "get", meta.nbytes(), root.stderrIsTerminal())) {
      LongConsumer advance = progress::reached;
      TmpWriter body = format == TableFormat.arrow
          ? out -> TableFiles.exportArrow(table, out, advance)
          : out -> {
            Writer w = new BufferedWriter(new OutputStreamWriter(Channels.newOutputStream(out), StandardCharsets.UTF_8), 1 << 16);
            if (toTerminal()) {
              w = new TerminalSafeWriter(w); // other clients' strings, shown on a terminal
            }
            TableFiles.exportCsv(table, w, new CsvOptions(Delimiter.parse(delimiter), CsvOptions.DEFAULT_BATCH_ROWS), advance);
            w.flush();
          };
      if (target == null || target.toString().equals("-")) {
        root.out.flush();
        try {
          body.write(root.rawOut);
        } catch (IOException e) {
          if (!isBrokenPipe(e)) {
            throw e;
          }
          return ExitCodes.OK;
        }
      } else {
        FileBody fill = file -> {
          try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            body.write(ch);
          }
        };
        if (isSpecial(target)) {
          fill.write(target);
        } else {
          atomically(target, fill);
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    verbose("wrote %s of %s as %s in %.3f s", MemorySize.format(meta.nbytes()), meta.typename(), format, seconds);
    return ExitCodes.OK;
  }

  /**
   * Refuses to write binary output to a terminal when no {@code -o} was given (raw bytes there can
   * change the terminal's state and flood it); {@code -o -} asks for it anyway.
   */
  private void refuseTerminal(String what) {
    if (toTerminal()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "standard output is a terminal, and " + what
          + " would go to it as raw bytes: give -o FILE, pipe the output (| head -c 64 | xxd), or -o - to write"
          + " it to the terminal anyway");
    }
  }

  /** Whether the output goes to standard output, that is a terminal, and no {@code -o -} asked for it raw. */
  private boolean toTerminal() {
    return target == null && root.stdoutFd >= 0 && Libc.isatty(root.stdoutFd);
  }

  /**
   * CSV on its way to a terminal: control characters (but line ends and tabs) and the characters
   * that reorder text become visible escapes, as in {@code ls} and {@code inspect}, so a cell
   * another client wrote cannot retitle, clear or rewrite the terminal.
   */
  private static final class TerminalSafeWriter extends java.io.FilterWriter {
    TerminalSafeWriter(Writer out) {
      super(out);
    }

    @Override
    public void write(int c) throws IOException {
      char ch = (char) c;
      if (ch != '\n' && ch != '\t' && io.vineyard.internal.Escapes.isUnsafe(ch)) {
        out.write(io.vineyard.internal.Escapes.printable(String.valueOf(ch)));
      } else {
        out.write(c);
      }
    }

    @Override
    public void write(char[] buf, int off, int len) throws IOException {
      for (int i = off; i < off + len; i++) {
        write(buf[i]);
      }
    }

    @Override
    public void write(String str, int off, int len) throws IOException {
      for (int i = off; i < off + len; i++) {
        write(str.charAt(i));
      }
    }
  }

  /** Writes a table to a channel. */
  @FunctionalInterface
  private interface TmpWriter {
    void write(WritableByteChannel out) throws IOException;
  }

  /** Fills a new file. */
  @FunctionalInterface
  private interface FileBody {
    void write(Path tmp) throws IOException;
  }

  /**
   * Writes a regular file through a temporary file in the same directory, renamed into place once
   * complete; a device, FIFO or socket is written into as it is.
   */
  private void writeFile(Blob blob, Path file) throws IOException {
    if (isSpecial(file)) {
      writeInto(blob, file);
    } else {
      atomically(file, tmp -> writeInto(blob, tmp));
    }
  }

  /** Writes the blob into an existing file (from its start; the file is not truncated). */
  private void writeInto(Blob blob, Path file) throws IOException {
    int fd = Libc.openFile(file.toString(), Libc.O_WRONLY, 0);
    boolean sent;
    try {
      sent = send(blob, fd);
    } finally {
      Libc.closeQuietly(fd);
    }
    if (!sent) {
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        write(blob, ch);
      }
    }
  }

  /**
   * Whether {@code file} exists and is neither a regular file nor a directory (a device such as
   * /dev/null, a FIFO, a socket), following symbolic links: such a file is written into, never
   * replaced.
   */
  private static boolean isSpecial(Path file) {
    return Files.exists(file) && !Files.isRegularFile(file) && !Files.isDirectory(file);
  }

  /**
   * Creates a temporary file beside {@code file} (mode 0666 less the umask, as cp would), lets
   * {@code body} fill it, and renames it into place: the file appears complete or not at all.
   */
  private static void atomically(Path file, FileBody body) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no such directory: " + dir);
    }
    if (Files.isDirectory(file)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, file + " is a directory");
    }
    Path tmp = dir.resolve("." + file.getFileName() + "." + ProcessHandle.current().pid() + "." + System.nanoTime() + ".partial");
    try {
      // Created with mode 0666 and no more, so the umask applies as it would for cp.
      Libc.closeQuietly(Libc.openFile(tmp.toString(), Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, 0666));
      tmp.toFile().deleteOnExit(); // also on Ctrl-C or SIGTERM; a no-op once it is renamed
      body.write(tmp);
      if (Files.exists(file)) {
        Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(file));
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static boolean isBrokenPipe(Exception e) {
    return e.getMessage() != null && e.getMessage().contains("Broken pipe");
  }

  /**
   * Copies inside the kernel, from the daemon's shared memory to the descriptor, as cp does: nothing
   * is mapped or passes through the JVM. Returns false if the kernel cannot for this destination.
   */
  private boolean send(Blob blob, int fd) {
    long size = blob.size();
    try (Progress progress = new Progress(root.err, "get", size, root.stderrIsTerminal())) {
      for (long off = 0; off < size; ) {
        long n = Math.min(PutCommand.CHUNK, size - off);
        try {
          blob.transferTo(fd, off, n);
        } catch (VineyardException e) {
          // INVALID_ARGUMENT before any byte went: the kernel cannot sendfile to this destination.
          if (off == 0 && e.code() == ErrorCode.INVALID_ARGUMENT) {
            return false;
          }
          throw e;
        }
        off += n;
        progress.advance(n);
      }
    }
    return true;
  }

  /** Writes the mapped bytes through the channel (when the kernel cannot copy them itself). */
  private void write(Blob blob, WritableByteChannel ch) throws IOException {
    MemorySegment bytes = blob.segment();
    blob.prefault(); // one batch of page-table work instead of a fault per page inside write(2)
    long size = bytes.byteSize();
    try (Progress progress = new Progress(root.err, "get", size, root.stderrIsTerminal())) {
      for (long off = 0; off < size; ) {
        int n = (int) Math.min(PutCommand.CHUNK, size - off);
        ByteBuffer buf = bytes.asSlice(off, n).asByteBuffer();
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        off += n;
        progress.advance(n);
      }
    }
  }
}
