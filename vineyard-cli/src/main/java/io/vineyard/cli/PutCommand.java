package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.Table;
import io.vineyard.objects.TableFiles;
import io.vineyard.objects.csv.CsvOptions;
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
    description = {
      "Stores the bytes of FILE (or of standard input, for -) as a blob and prints its id alone on the last line.",
      "With --format csv or arrow, stores FILE as a table (vineyard::Table) instead: CSV with a header line, column"
          + " types inferred from every value (bool, int64, float64, date, timestamp, else string; an empty field is"
          + " null); or an Arrow IPC file or stream, batches and dictionaries as they are."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl put model.bin",
      "  vineyardctl put features.parquet --name features",
      "  generate-data | vineyardctl put - --name batch-7",
      "  vineyardctl put --format csv purchases.csv --name purchases",
      "  vineyardctl put --format arrow trips.arrow",
      "  export-job --arrow-stream | vineyardctl put --format arrow -",
      ""
    })
final class PutCommand extends ClientCommand {

  /** Bytes moved per read: large enough to stream, small enough to show progress. */
  static final int CHUNK = 64 << 20;

  @Parameters(paramLabel = "FILE", description = "The file to store, or - for standard input.")
  String file;

  @Option(names = "--name", paramLabel = "NAME", description = "Also bind NAME to the new object.")
  String name;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      description = "blob (the default: the bytes as they are), csv or arrow (a table).")
  TableFormat format = TableFormat.blob;

  @Option(names = "--delimiter", paramLabel = "CHAR", description = Delimiter.HELP)
  String delimiter = ",";

  @Option(names = "--batch-rows", paramLabel = "N", description = "Rows per record batch for CSV (default: ${DEFAULT-VALUE}).")
  int batchRows = CsvOptions.DEFAULT_BATCH_ROWS;

  @Override
  protected int run(IpcClient client) throws IOException {
    if (name != null) {
      NameCommand.checkName(name);
    }
    if (format != TableFormat.blob) {
      return putTable(client);
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
    bindName(client, id, false);
    double seconds = (System.nanoTime() - start) / 1e9;
    verbose("stored %s in %.3f s (%.2f GB/s)", MemorySize.format(size), seconds, size / seconds / 1e9);
    if (root.json()) {
      root.out.println("{\"id\": " + Json.string(id.toString()) + ", \"size_bytes\": " + size
          + (name != null ? ", \"name\": " + Json.string(name) : "") + "}");
    } else {
      root.out.println(id);
    }
    return ExitCodes.OK;
  }

  /** Binds --name, if given; on failure deletes the new object, whose id the caller never saw. */
  private void bindName(IpcClient client, ObjectId id, boolean deep) {
    if (name != null) {
      try {
        client.putName(name, id);
      } catch (RuntimeException e) {
        client.delete(List.of(id), false, deep);
        throw e;
      }
    }
  }

  /** Stores a CSV or Arrow IPC input as a Table. */
  private int putTable(IpcClient client) throws IOException {
    Delimiter.parse(delimiter); // a bad one fails before anything is read
    Path path = Path.of(file);
    boolean stdin = "-".equals(file);
    if (!stdin && Files.isDirectory(path)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, file + " is a directory");
    }
    if (!stdin && !Files.exists(path)) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no such file: " + file);
    }
    long start = System.nanoTime();
    TableFiles.Imported table;
    if (!stdin && Files.isRegularFile(path)) {
      table = importFile(client, path);
    } else {
      String what = stdin ? "standard input" : file;
      java.io.InputStream source = stdin ? root.in : Files.newInputStream(path);
      Path spooled = null;
      try {
        java.io.BufferedInputStream in = new java.io.BufferedInputStream(source, 1 << 20);
        if (format == TableFormat.arrow && !TableFiles.isArrowFileFormat(in)) {
          // An Arrow IPC stream is read as it comes.
          try (Progress progress = new Progress(root.err, "put", -1, root.stderrIsTerminal())) {
            table = TableFiles.importArrowStream(client, in, what, progress::reached);
          }
        } else {
          // CSV is read twice (types, then values) and the Arrow file format needs its footer: save first.
          spooled = spool(in);
          try {
            table = importFile(client, spooled);
          } catch (VineyardException e) {
            // Errors name the input the user gave, not the temporary copy.
            throw new VineyardException(e.code(), e.reason().replace(spooled.toString(), what), e);
          }
        }
      } finally {
        if (source != root.in) {
          source.close();
        }
        if (spooled != null) {
          Files.deleteIfExists(spooled);
        }
      }
    }
    ObjectId id = table.id();
    bindName(client, id, true);
    double seconds = (System.nanoTime() - start) / 1e9;
    verbose("stored a table of %d rows in %d batches (%s of Arrow data) in %.3f s",
        table.rows(), table.batches(), MemorySize.format(table.bytes()), seconds);
    if (root.json()) {
      root.out.println("{\"id\": " + Json.string(id.toString()) + ", \"typename\": " + Json.string(Table.TYPENAME)
          + ", \"num_rows\": " + table.rows() + ", \"num_batches\": " + table.batches()
          + ", \"size_bytes\": " + client.getMeta(id).nbytes()
          + (name != null ? ", \"name\": " + Json.string(name) : "") + "}");
    } else {
      root.out.println(id);
    }
    return ExitCodes.OK;
  }

  /**
   * Imports a regular file. CSV progress is the share of the file read, in each of its two passes;
   * Arrow progress the bytes stored.
   */
  private TableFiles.Imported importFile(IpcClient client, Path path) throws IOException {
    if (format == TableFormat.arrow) {
      try (Progress progress = new Progress(root.err, "put", -1, root.stderrIsTerminal())) {
        return TableFiles.importArrow(client, path, progress::reached);
      }
    }
    long size = Files.size(path);
    try (Progress progress = new Progress(root.err, "put: reading types", size, root.stderrIsTerminal())) {
      int[] pass = {1};
      return TableFiles.importCsv(client, path, new CsvOptions(Delimiter.parse(delimiter), batchRows), (p, read) -> {
        if (p != pass[0]) {
          pass[0] = p;
          progress.stage("put: storing values", size);
        }
        progress.reached(read);
      });
    }
  }

  /**
   * Saves a stream to a private temporary file (mode 0600, in $TMPDIR, else the JVM's temporary
   * directory), for inputs that must be read more than once. It is deleted when the put ends, also
   * on Ctrl-C or SIGTERM.
   */
  private static Path spool(java.io.InputStream in) throws IOException {
    String dir = System.getenv("TMPDIR");
    Path tmp = dir != null && !dir.isEmpty() && Files.isDirectory(Path.of(dir))
        ? Files.createTempFile(Path.of(dir), "vineyardctl-put-", ".spool")
        : Files.createTempFile("vineyardctl-put-", ".spool");
    tmp.toFile().deleteOnExit();
    try {
      Files.copy(in, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      return tmp;
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  /** Reads the file straight into the blob's shared memory: one copy, from the page cache. */
  private ObjectId putFile(IpcClient client, FileChannel ch, long size) throws IOException {
    try (BlobWriter w = client.createBlob(size); Progress progress = new Progress(root.err, "put", size, root.stderrIsTerminal())) {
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
    try (Progress progress = new Progress(root.err, label, -1, root.stderrIsTerminal())) {
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
