package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "put",
    mixinStandardHelpOptions = true,
    description = "Stores the bytes of FILE (or of standard input, for -) as a blob and prints its id alone on the"
        + " last line.",
    footer = {
      "",
      "Examples:",
      "  vineyardctl put model.bin",
      "  vineyardctl put features.parquet --name features",
      "  generate-data | vineyardctl put - --name batch-7",
      ""
    })
final class PutCommand extends ClientCommand {

  /** Bytes moved per read: large enough to stream, small enough to show progress. */
  static final int CHUNK = 64 << 20;

  @Parameters(paramLabel = "FILE", description = "The file to store, or - for standard input.")
  String file;

  @Option(names = "--name", paramLabel = "NAME", description = "Also bind NAME to the new object.")
  String name;

  @Override
  protected int run(IpcClient client) throws IOException {
    if (name != null) {
      NameCommand.checkName(name);
    }
    long start = System.nanoTime();
    ObjectId id;
    long size;
    if ("-".equals(file)) {
      try (Arena staging = Arena.ofConfined()) {
        List<MemorySegment> chunks = readAll(Channels.newChannel(root.in), staging, "reading stdin");
        size = chunks.stream().mapToLong(MemorySegment::byteSize).sum();
        id = putChunks(client, chunks, size);
      }
    } else {
      Path path = Path.of(file);
      if (Files.isDirectory(path)) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, file + " is a directory");
      }
      try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
        if (Files.isRegularFile(path)) {
          size = ch.size();
          id = putFile(client, ch, size);
        } else {
          // A pipe or device has no size up front: stream it like standard input.
          try (Arena staging = Arena.ofConfined()) {
            List<MemorySegment> chunks = readAll(ch, staging, "reading " + file);
            size = chunks.stream().mapToLong(MemorySegment::byteSize).sum();
            id = putChunks(client, chunks, size);
          }
        }
      } catch (NoSuchFileException e) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no such file: " + file);
      }
    }
    if (name != null) {
      try {
        client.putName(name, id);
      } catch (RuntimeException e) {
        // Do not leave behind a blob whose id the caller never saw.
        client.delete(List.of(id), false, false);
        throw e;
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    verbose("stored %s in %.3f s (%.2f GB/s)", MemorySize.format(size), seconds, size / seconds / 1e9);
    if (root.json()) {
      root.out.println("{\"id\": " + Json.string(id.toString()) + ", \"size\": " + size
          + (name != null ? ", \"name\": " + Json.string(name) : "") + "}");
    } else {
      root.out.println(id);
    }
    return ExitCodes.OK;
  }

  /** Reads the file straight into the blob's shared memory: one copy, from the page cache. */
  private ObjectId putFile(IpcClient client, FileChannel ch, long size) throws IOException {
    try (BlobWriter w = client.createBlob(size); Progress progress = new Progress(root.err, "put", size, root.stderrIsTerminal)) {
      MemorySegment target = w.segment();
      for (long off = 0; off < size; ) {
        int n = (int) Math.min(CHUNK, size - off);
        ByteBuffer buf = target.asSlice(off, n).asByteBuffer();
        while (buf.hasRemaining()) {
          if (ch.read(buf, off + buf.position()) < 0) {
            throw new VineyardException(ErrorCode.IO_ERROR, file + " shrank while it was being read");
          }
        }
        off += n;
        progress.advance(n);
      }
      return w.seal();
    }
  }

  /** A stream has no size up front: it is staged off-heap, then copied into one blob. */
  private List<MemorySegment> readAll(ReadableByteChannel in, Arena staging, String label) throws IOException {
    List<MemorySegment> chunks = new ArrayList<>();
    try (Progress progress = new Progress(root.err, label, -1, root.stderrIsTerminal)) {
      while (true) {
        MemorySegment chunk = staging.allocate(CHUNK, 64);
        ByteBuffer buf = chunk.asByteBuffer();
        int n;
        while (buf.hasRemaining() && (n = in.read(buf)) >= 0) {
          progress.advance(n);
        }
        chunks.add(chunk.asSlice(0, buf.position()));
        if (buf.hasRemaining()) {
          return chunks;
        }
      }
    }
  }

  private static ObjectId putChunks(IpcClient client, List<MemorySegment> chunks, long size) {
    try (BlobWriter w = client.createBlob(size)) {
      long off = 0;
      for (MemorySegment c : chunks) {
        MemorySegment.copy(c, 0, w.segment(), off, c.byteSize());
        off += c.byteSize();
      }
      return w.seal();
    }
  }
}
