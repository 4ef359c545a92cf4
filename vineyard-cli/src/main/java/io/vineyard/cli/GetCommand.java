package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.Libc;
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
    description = "Writes a blob's bytes to FILE, or to standard output.",
    footer = {
      "",
      "Examples:",
      "  vineyardctl get o8000000000000001 -o model.bin",
      "  vineyardctl get features | wc -c",
      ""
    })
final class GetCommand extends ClientCommand {

  @Parameters(paramLabel = "ID|NAME", description = "The object's id or a name bound to it.")
  String ref;

  @Option(
      names = {"-o", "--out"},
      paramLabel = "FILE",
      description = "Write here instead of standard output. The file appears complete or not at all.")
  Path target;

  @Override
  protected int run(IpcClient client) throws IOException {
    long start = System.nanoTime();
    ObjectId id = resolve(client, ref);
    if (!id.isBlob()) {
      String typename = client.getMeta(id).typename();
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          id + " is a " + typename + ", not a blob; 'vineyardctl inspect " + ref + "' shows its members");
    }
    long size;
    try (Blob blob = client.getBlob(id)) {
      size = blob.size();
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

  /** Writes through a temporary file in the same directory, renamed into place once complete. */
  private void writeFile(Blob blob, Path file) throws IOException {
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
      int fd = Libc.openFile(tmp.toString(), Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, 0666);
      boolean sent;
      try {
        sent = send(blob, fd);
      } finally {
        Libc.closeQuietly(fd);
      }
      if (!sent) {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
          write(blob, ch);
        }
      }
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
    try (Progress progress = new Progress(root.err, "get", size, root.stderrIsTerminal)) {
      for (long off = 0; off < size; ) {
        long n = Math.min(PutCommand.CHUNK, size - off);
        try {
          blob.transferTo(fd, off, n);
        } catch (UnsupportedOperationException e) {
          if (off == 0) {
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
    try (Progress progress = new Progress(root.err, "get", size, root.stderrIsTerminal)) {
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
