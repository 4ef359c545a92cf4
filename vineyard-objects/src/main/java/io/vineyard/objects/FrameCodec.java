package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.objects.internal.ArrowBody;
import io.vineyard.objects.internal.JsonText;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;

/**
 * Writes an Arrow record batch as a {@code vineyard::DataFrame} and reads it back over shared memory.
 *
 * <p>A DataFrame's metadata holds the schema as Arrow IPC encodes it (a flatbuffer Schema message,
 * base64, with dictionary-encoded fields carrying their value type), the column names for people, and
 * the body ({@link ArrowBody}). Each dictionary is a one-column DataFrame of its own, member
 * {@code dictionary_<id>}, so batches of a table whose dictionary does not change share it.
 */
final class FrameCodec {
  private FrameCodec() {}

  static final String SCHEMA = "schema";
  static final String COLUMNS = "columns";
  static final String NUM_COLUMNS = "num_columns";
  static final String DICTIONARY_ID = "dictionary_id";

  static String dictionaryMember(long id) {
    return "dictionary_" + id;
  }

  /** The Arrow IPC Schema message of a schema in message format, base64. */
  static String encodeSchema(Schema messageSchema) {
    return Base64.getEncoder().encodeToString(messageSchema.serializeAsMessage());
  }

  static Schema decodeSchema(ObjectMeta meta) {
    try {
      return Schema.deserializeMessage(ByteBuffer.wrap(Base64.getDecoder().decode(meta.getString(SCHEMA))));
    } catch (RuntimeException e) {
      if (e instanceof VineyardException v) {
        throw v;
      }
      throw ArrowBody.malformed(meta, "its schema does not decode: " + e);
    }
  }

  /** The schema with dictionary-encoded fields given their value types, as Arrow IPC writes it. */
  static Schema toMessageFormat(Schema schema, DictionaryProvider provider, Set<Long> idsUsed) {
    List<Field> fields = new ArrayList<>(schema.getFields().size());
    for (Field f : schema.getFields()) {
      if (DictionaryUtility.needConvertToMessageFormat(f) && provider == null) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT, "column '" + f.getName() + "' is dictionary-encoded but no dictionaries were given");
      }
      try {
        fields.add(DictionaryUtility.toMessageFormat(f, provider, idsUsed));
      } catch (IllegalArgumentException e) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "column '" + f.getName() + "': " + e.getMessage());
      }
    }
    return new Schema(fields, schema.getCustomMetadata());
  }

  /** Remembers the dictionaries stored so far, so an unchanged dictionary is stored once. */
  static final class DictionaryCache {
    private record Stored(byte[] digest, ObjectId id) {}

    private final Map<Long, Stored> stored = new HashMap<>();

    ObjectId storeIfChanged(IpcClient client, Dictionary dictionary, DictionaryProvider provider, List<ObjectId> created) {
      long dictId = dictionary.getEncoding().getId();
      FieldVector vector = dictionary.getVector();
      VectorSchemaRoot single = new VectorSchemaRoot(List.of(vector.getField()), List.of(vector), vector.getValueCount());
      byte[] digest = digest(single);
      Stored s = stored.get(dictId);
      if (s != null && MessageDigest.isEqual(s.digest, digest)) {
        return s.id;
      }
      ObjectId id = write(client, single, provider, this, created, dictId);
      stored.put(dictId, new Stored(digest, id));
      return id;
    }

    private static byte[] digest(VectorSchemaRoot root) {
      MessageDigest md;
      try {
        md = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new VineyardException(ErrorCode.INTERNAL, "SHA-256 is not available in this JVM", e);
      }
      md.update(root.getSchema().toJson().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      try (ArrowRecordBatch batch = new VectorUnloader(root, true, NoCompressionCodec.INSTANCE, false).getRecordBatch()) {
        ByteBuffer header = ByteBuffer.allocate(16);
        for (ArrowFieldNode n : batch.getNodes()) {
          header.clear();
          md.update(header.putLong(n.getLength()).putLong(n.getNullCount()).flip());
        }
        for (ArrowBuf b : batch.getBuffers()) {
          long size = b.readableBytes();
          header.clear();
          md.update(header.putLong(size).flip());
          // In slices: a ByteBuffer cannot view more than 2 GiB.
          var bytes = ArrowBody.readable(b);
          for (long off = 0; off < size; off += 1L << 30) {
            md.update(bytes.asSlice(off, Math.min(1L << 30, size - off)).asByteBuffer());
          }
        }
      }
      return md.digest();
    }
  }

  /**
   * Stores {@code root} (with its dictionaries from {@code provider}) as a DataFrame.
   *
   * @param created receives every object and blob made, for the caller to delete on failure
   * @param dictionaryId the id when this frame is itself a dictionary, else -1
   */
  static ObjectId write(
      IpcClient client,
      VectorSchemaRoot root,
      DictionaryProvider provider,
      DictionaryCache cache,
      List<ObjectId> created,
      long dictionaryId) {
    checkReadable(root.getSchema());
    Set<Long> idsUsed = new LinkedHashSet<>();
    Schema messageSchema = toMessageFormat(root.getSchema(), provider, idsUsed);
    ObjectMeta.Builder meta = ObjectMeta.builder(DataFrame.TYPENAME)
        .field(SCHEMA, encodeSchema(messageSchema))
        .field(NUM_COLUMNS, (long) root.getSchema().getFields().size())
        .jsonField(COLUMNS, JsonText.strings(root.getSchema().getFields().stream().map(Field::getName).toList()));
    if (dictionaryId >= 0) {
      meta.field(DICTIONARY_ID, dictionaryId);
    }
    for (long id : idsUsed) {
      Dictionary d = provider.lookup(id);
      meta.member(dictionaryMember(id), cache.storeIfChanged(client, d, provider, created));
    }
    try (ArrowRecordBatch batch = new VectorUnloader(root, true, NoCompressionCodec.INSTANCE, false).getRecordBatch()) {
      ArrowBody.write(client, batch, meta, created);
    } catch (IllegalArgumentException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot store the batch: " + e.getMessage());
    }
    ObjectId id = client.putMeta(meta.build());
    created.add(id);
    return id;
  }

  /**
   * Refuses a schema that Arrow cannot make vectors of again (e.g. a map declared without its entries
   * struct), so nothing is stored that no reader could open.
   */
  private static void checkReadable(Schema schema) {
    try (BufferAllocator scratch = new org.apache.arrow.memory.RootAllocator()) {
      for (Field f : schema.getFields()) {
        try (FieldVector v = f.createVector(scratch)) {
          v.getValueCount();
        } catch (RuntimeException e) {
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT, "column '" + f.getName() + "' has a type Arrow cannot read back: " + e.getMessage());
        }
      }
    }
  }

  /** Deletes what a failed write made, best effort (the original failure is what the caller reports). */
  static void discard(IpcClient client, List<ObjectId> created, Throwable cause) {
    if (created.isEmpty() || client.isClosed()) {
      return;
    }
    try {
      client.delete(List.copyOf(created), true, false);
    } catch (RuntimeException e) {
      cause.addSuppressed(e);
    }
    created.clear();
  }

  /** Reads a DataFrame over shared memory: the root and the dictionaries its columns use. */
  static DataFrame read(ObjectContext context, ObjectMeta meta) {
    if (!DataFrame.TYPENAME.equals(meta.typename())) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "object " + meta.id() + " is a " + meta.typename() + ", not a DataFrame");
    }
    context.fetchBlobs(meta);
    BufferAllocator allocator = context.allocator();
    Schema messageSchema = decodeSchema(meta);
    List<DataFrame> dictionaryFrames = new ArrayList<>();
    Map<Long, Dictionary> dictionaries = new HashMap<>();
    VectorSchemaRoot root = null;
    try {
      for (DictionaryEncoding enc : encodings(messageSchema)) {
        ObjectMeta dm = meta.members().get(dictionaryMember(enc.getId()));
        if (dm == null) {
          throw ArrowBody.malformed(meta, "dictionary " + enc.getId() + " is missing");
        }
        DataFrame df = read(context, dm);
        dictionaryFrames.add(df);
        if (df.root().getFieldVectors().size() != 1) {
          throw ArrowBody.malformed(dm, "a dictionary has one column");
        }
        dictionaries.put(enc.getId(), new Dictionary(df.root().getVector(0), enc));
        df.dictionaries().getDictionaryIds().forEach(id -> dictionaries.putIfAbsent(id, df.dictionaries().lookup(id)));
      }
      List<Field> fields = new ArrayList<>();
      List<FieldVector> vectors = new ArrayList<>();
      for (Field f : messageSchema.getFields()) {
        Field memory = DictionaryUtility.toMemoryFormat(f, allocator, dictionaries);
        fields.add(memory);
        vectors.add(memory.createVector(allocator));
      }
      root = new VectorSchemaRoot(new Schema(fields, messageSchema.getCustomMetadata()), vectors, 0);
      try (ArrowRecordBatch batch = ArrowBody.read(meta, context::blob, allocator)) {
        new VectorLoader(root).load(batch);
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw ArrowBody.malformed(meta, e.getMessage());
      }
      return new DataFrame(context.client(), meta, root, dictionaries, dictionaryFrames);
    } catch (RuntimeException e) {
      if (root != null) {
        root.close();
      }
      for (DataFrame df : dictionaryFrames) {
        df.close();
      }
      throw e;
    }
  }

  /**
   * Fails unless every batch that uses a dictionary uses the same stored one, for consumers that
   * hold one dictionary per column.
   *
   * @param why what cannot hold a changing dictionary, for the message
   */
  static void checkDictionariesShared(List<DataFrame> batches, String why) {
    Map<String, ObjectId> first = new HashMap<>();
    for (DataFrame df : batches) {
      for (Map.Entry<String, ObjectMeta> m : df.meta().members().entrySet()) {
        if (!m.getKey().startsWith("dictionary_")) {
          continue;
        }
        ObjectId before = first.putIfAbsent(m.getKey(), m.getValue().id());
        if (before != null && !before.equals(m.getValue().id())) {
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT,
              "dictionary " + m.getKey().substring("dictionary_".length()) + " changes between batches; " + why);
        }
      }
    }
  }

  /** Every dictionary encoding in the schema, children included, each id once. */
  static List<DictionaryEncoding> encodings(Schema schema) {
    Map<Long, DictionaryEncoding> out = new java.util.LinkedHashMap<>();
    for (Field f : schema.getFields()) {
      collect(f, out);
    }
    return new ArrayList<>(out.values());
  }

  private static void collect(Field f, Map<Long, DictionaryEncoding> out) {
    if (f.getDictionary() != null) {
      out.putIfAbsent(f.getDictionary().getId(), f.getDictionary());
    }
    for (Field c : f.getChildren()) {
      collect(c, out);
    }
  }
}
