package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.csv.CsvOptions;
import io.vineyard.objects.csv.CsvReader;
import io.vineyard.objects.csv.CsvWriter;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;

/**
 * Tables in and out of files: Arrow IPC (the file format, or a stream) and CSV.
 *
 * <p>Import stores the file as a {@link Table}, batch by batch (never more than one batch in the
 * Java process). Export writes a {@link Table} or {@link DataFrame} as a standard Arrow IPC file or as
 * CSV, reading the batches straight from shared memory.
 */
public final class TableFiles {
  private TableFiles() {}

  /** The first bytes of an Arrow IPC file. */
  private static final byte[] ARROW_MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);

  /**
   * A table stored by an import.
   *
   * @param id the Table's id
   * @param rows its rows
   * @param batches its batches
   * @param bytes the Arrow bytes of its batches (the data; the daemon's nbytes also counts dictionaries)
   */
  public record Imported(ObjectId id, long rows, int batches, long bytes) {}

  /**
   * Stores an Arrow IPC file or stream (told apart by the file's magic bytes) as a Table, with its
   * batches and dictionaries as they are.
   *
   * @param progress told the Arrow bytes stored after each batch (may be null)
   */
  public static Imported importArrow(IpcClient client, Path file, LongConsumer progress) {
    try (BufferAllocator allocator = new RootAllocator(readLimit(client, file))) {
      if (Files.isRegularFile(file) && startsWithMagic(file)) {
        if (!endsWithMagic(file)) {
          // Arrow itself would say "missing Magic number [...]".
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT, file + " is not a complete Arrow IPC file: it starts with the file format's magic"
                  + " bytes (ARROW1) but does not end with them, so it is probably truncated (a copy or download cut short)");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            ArrowFileReader reader = new ArrowFileReader(ch, allocator)) {
          return importFrom(client, reader, file.toString(), progress);
        }
      }
      try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
        if (isArrowFileFormat(in)) {
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT, file + " is in the Arrow IPC file format, which needs a seekable file; "
                  + "save it to a file first, or send the Arrow IPC stream format through pipes");
        }
        checkStreamStart(in, file.toString());
        try (ArrowStreamReader reader = new ArrowStreamReader(in, allocator)) {
          return importFrom(client, reader, file.toString(), progress);
        }
      }
    } catch (NoSuchFileException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no such file: " + file);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot read " + file + " as Arrow IPC: " + e.getMessage(), e);
    }
  }

  /** Stores an Arrow IPC stream read from {@code in} as a Table. */
  public static Imported importArrowStream(IpcClient client, InputStream in, String what, LongConsumer progress) {
    InputStream buffered = in.markSupported() ? in : new BufferedInputStream(in, 1 << 16);
    try (BufferAllocator allocator = new RootAllocator(readLimit(client, null))) {
      checkStreamStart(buffered, what);
      try (ArrowStreamReader reader = new ArrowStreamReader(buffered, allocator)) {
        return importFrom(client, reader, what, progress);
      }
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot read " + what + " as an Arrow IPC stream: " + e.getMessage(), e);
    }
  }

  /**
   * What reading Arrow input may allocate: a batch of a file is never larger than the file, nor one
   * of a stream larger than the store it goes to. Corrupt lengths then fail as an allocation error,
   * not by exhausting memory.
   */
  private static long readLimit(IpcClient client, Path file) throws IOException {
    long slack = 64L << 20;
    if (file != null && Files.isRegularFile(file)) {
      return Files.size(file) + slack;
    }
    return client.stats().capacityBytes() + slack;
  }

  /** The largest first message (the schema) an Arrow stream may plausibly start with. */
  private static final int MAX_SCHEMA_MESSAGE = 64 << 20;

  /**
   * Checks that the input starts like an Arrow IPC stream: a message length (after the 0xFFFFFFFF
   * continuation marker, or alone in the pre-1.0 format) that a schema message could have. Other
   * bytes read as a length would make Arrow allocate up to 2 GiB before failing.
   */
  private static void checkStreamStart(InputStream in, String what) throws IOException {
    in.mark(8);
    byte[] head = in.readNBytes(8);
    in.reset();
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(head).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    int first = head.length >= 4 ? b.getInt(0) : 0;
    int length = first == -1 && head.length == 8 ? b.getInt(4) : first;
    if (head.length < 8 || length <= 0 || length > MAX_SCHEMA_MESSAGE) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT, what + (head.length == 0 ? " is empty" : " does not start like Arrow IPC data")
              + ": expected an Arrow IPC file or stream (with a schema message under 64 MiB)");
    }
  }

  private static boolean startsWithMagic(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return Arrays.equals(in.readNBytes(ARROW_MAGIC.length), ARROW_MAGIC);
    }
  }

  private static boolean endsWithMagic(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 2L * ARROW_MAGIC.length) {
        return false;
      }
      java.nio.ByteBuffer tail = java.nio.ByteBuffer.allocate(ARROW_MAGIC.length);
      while (tail.hasRemaining() && ch.read(tail, size - ARROW_MAGIC.length + tail.position()) >= 0) {
        // reads the last bytes
      }
      return Arrays.equals(tail.array(), ARROW_MAGIC);
    }
  }

  /**
   * Whether a stream (which must support mark and reset) starts with the Arrow IPC file format's
   * magic bytes; it is left where it was. The file format needs a seekable file; a stream without
   * the magic may be the Arrow IPC stream format.
   */
  public static boolean isArrowFileFormat(InputStream in) throws IOException {
    in.mark(ARROW_MAGIC.length);
    byte[] head = in.readNBytes(ARROW_MAGIC.length);
    in.reset();
    return Arrays.equals(head, ARROW_MAGIC);
  }

  private static Imported importFrom(IpcClient client, ArrowReader reader, String what, LongConsumer progress) throws IOException {
    Schema schema;
    try {
      schema = reader.getVectorSchemaRoot().getSchema();
    } catch (OutOfMemoryError e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, what + " is corrupt: a message asks for more memory than there is", e);
    } catch (RuntimeException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, what + " is not Arrow IPC data: " + e.getMessage(), e);
    }
    try (TableWriter w = Table.writer(client, schema, reader)) {
      long bytes = 0;
      while (loadNext(reader, what)) {
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        w.append(root, reader);
        bytes += bufferBytes(root);
        if (progress != null) {
          progress.accept(bytes);
        }
      }
      return new Imported(w.finish(), w.rowCount(), w.batchCount(), bytes);
    }
  }

  private static long bufferBytes(VectorSchemaRoot root) {
    return root.getFieldVectors().stream().mapToLong(v -> v.getBufferSize()).sum();
  }

  private static boolean loadNext(ArrowReader reader, String what) throws IOException {
    try {
      return reader.loadNextBatch();
    } catch (OutOfMemoryError e) {
      // A corrupt message length: Arrow asked for a buffer the heap cannot hold. Only that buffer
      // failed, so the process can go on and report it.
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, what + " is corrupt: a message asks for more memory than there is", e);
    } catch (RuntimeException e) {
      // Arrow reports malformed input (and compressed bodies it has no codec for) this way.
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot read a batch of " + what + ": " + e.getMessage(), e);
    }
  }

  /** How far a CSV import has got: it reads the file twice, for the column types, then the values. */
  @FunctionalInterface
  public interface CsvProgress {
    /**
     * @param pass 1 while inferring the types, 2 while storing the values
     * @param bytesRead bytes of the file read so far in this pass
     */
    void reached(int pass, long bytesRead);
  }

  /**
   * Stores a CSV file (with a header line) as a Table; column types are inferred from all values
   * (see {@link CsvReader}).
   *
   * @param progress told how far each of the two passes over the file has read it (may be null)
   */
  public static Imported importCsv(IpcClient client, Path file, CsvOptions options, CsvProgress progress) {
    Schema schema = CsvReader.inferSchema(file, options, progress == null ? null : read -> progress.reached(1, read));
    try (BufferAllocator allocator = new RootAllocator(); TableWriter w = Table.writer(client, schema)) {
      long[] bytes = {0};
      CsvReader.read(file, schema, options, allocator, batch -> {
        w.append(batch);
        bytes[0] += bufferBytes(batch);
      }, progress == null ? null : read -> progress.reached(2, read));
      return new Imported(w.finish(), w.rowCount(), w.batchCount(), bytes[0]);
    }
  }

  /** The record batches of a Table or DataFrame, in order. */
  public static List<DataFrame> batchesOf(VineyardObject o) {
    if (o instanceof Table t) {
      return t.batches();
    }
    if (o instanceof DataFrame df) {
      return List.of(df);
    }
    throw new VineyardException(
        ErrorCode.INVALID_ARGUMENT, "object " + o.id() + " is a " + o.meta().typename() + "; only a "
            + DataFrame.TYPENAME + " or " + Table.TYPENAME + " is written as a table");
  }

  private static Schema schemaOf(VineyardObject o) {
    return o instanceof Table t ? t.schema() : ((DataFrame) o).schema();
  }

  /**
   * Writes a Table or DataFrame as a standard Arrow IPC file: the schema, the dictionaries, then every
   * batch as it is stored (the buffers go from shared memory to the channel).
   *
   * @param progress told the Arrow bytes written after each batch (may be null)
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} when a dictionary changes between
   *     batches, which the file format cannot hold
   */
  public static void exportArrow(VineyardObject tableOrFrame, WritableByteChannel out, LongConsumer progress) throws IOException {
    List<DataFrame> batches = batchesOf(tableOrFrame);
    Schema schema = schemaOf(tableOrFrame);
    FrameCodec.checkDictionariesShared(batches, "the Arrow IPC file format cannot hold that; export the batches apart");
    // Buffers move between allocators of one root only: the writer's root hangs off the batches' root.
    BufferAllocator parent = batches.stream()
        .flatMap(df -> df.root().getFieldVectors().stream())
        .findFirst()
        .map(v -> v.getAllocator().getRoot())
        .orElse(null);
    Map<Long, Dictionary> emptyDictionaries = new HashMap<>();
    try (BufferAllocator allocator = parent == null ? new RootAllocator() : parent.newChildAllocator("arrow-export", 0, Long.MAX_VALUE)) {
      DictionaryProvider dictionaries;
      if (batches.isEmpty()) {
        // No batch to take dictionaries from: empty ones of the stored value types.
        for (Field f : FrameCodec.decodeSchema(tableOrFrame.meta()).getFields()) {
          DictionaryUtility.toMemoryFormat(f, allocator, emptyDictionaries);
        }
        dictionaries = new DictionaryProvider.MapDictionaryProvider(emptyDictionaries.values().toArray(Dictionary[]::new));
      } else {
        dictionaries = batches.getFirst().dictionaries();
      }
      try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
          ArrowFileWriter writer = new ArrowFileWriter(root, dictionaries, out)) {
        writer.start();
        VectorLoader loader = new VectorLoader(root);
        for (DataFrame df : batches) {
          try (ArrowRecordBatch batch = new VectorUnloader(df.root()).getRecordBatch()) {
            loader.load(batch);
          }
          writer.writeBatch();
          if (progress != null) {
            progress.accept(writer.bytesWritten());
          }
        }
        writer.end();
      } finally {
        emptyDictionaries.values().forEach(d -> d.getVector().close());
      }
    }
  }

  /**
   * Writes a Table or DataFrame as CSV with a header line (dictionary-encoded columns decoded).
   *
   * @param progress told the Arrow bytes written out after each batch (may be null)
   */
  public static void exportCsv(VineyardObject tableOrFrame, Writer out, CsvOptions options, LongConsumer progress) throws IOException {
    List<DataFrame> batches = batchesOf(tableOrFrame);
    if (batches.isEmpty()) {
      // The header alone: a batch of no rows.
      try (BufferAllocator allocator = new RootAllocator();
          VectorSchemaRoot empty = VectorSchemaRoot.create(TableWriter.stripDictionaries(schemaOf(tableOrFrame)), allocator)) {
        CsvWriter.write(empty, null, out, true, options);
      }
      return;
    }
    long bytes = 0;
    boolean header = true;
    for (DataFrame df : batches) {
      CsvWriter.write(df.root(), df.dictionaries(), out, header, options);
      header = false;
      bytes += bufferBytes(df.root());
      if (progress != null) {
        progress.accept(bytes);
      }
    }
  }
}
