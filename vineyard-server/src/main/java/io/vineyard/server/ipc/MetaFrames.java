package io.vineyard.server.ipc;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.vineyard.ErrorCode;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import io.vineyard.proto.ipc.FieldValue;
import io.vineyard.proto.ipc.GetMetaResponse;
import io.vineyard.proto.ipc.ListEntry;
import io.vineyard.proto.ipc.ListResponse;
import io.vineyard.proto.ipc.Response;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.io.UncheckedIOException;
import java.util.function.BiConsumer;

/**
 * The frames of the answers that carry object metadata ({@code list}, {@code get_meta}), encoded
 * straight from {@link ObjectMeta} into the frame's buffer.
 *
 * <p>Going through the generated messages cost, per object, a builder, a map and a map entry for
 * every field and member, and as many again to serialize them: under a mixed load, listings made
 * most of the daemon's garbage and its young collections most of every operation's tail latency.
 * Here an answer is measured once and written once, and nothing is allocated but the frame. The
 * bytes are those of a {@code Response} with that body, field for field (MetaFramesTest parses them
 * back with the generated classes and compares); clients see no difference.
 *
 * <p>An instance is one answer, measured when made (so that what is too large is refused before
 * anything is written) and written by {@link FrameEncoder} into the frame it allocates: a frame
 * that cannot be allocated is a failed write, as for any other answer.
 */
final class MetaFrames {

  private static final int LEN = WireFormat.WIRETYPE_LENGTH_DELIMITED;

  /** Bytes of a listing's answer beside its entries, as {@code Protos.toProto(Listing, long)} counts them. */
  private static final int LISTING_ENVELOPE = 64;

  /**
   * Sizes of the metadata messages of the answer, in the order they are written: an object's own
   * slot comes before its members' (each message's length precedes its bytes on the wire).
   */
  private int[] sizes = new int[16];
  private int count;
  private int cursor;

  private final long requestId;
  private final int bodyField;
  /** The listing's entries to write (the first {@link #kept}), or null for a get_meta. */
  private final List<ObjectInfo> objects;
  private final ObjectMeta meta;
  private int kept;
  private boolean truncated;
  private int bodySize;
  private int size;

  private MetaFrames(long requestId, int bodyField, List<ObjectInfo> objects, ObjectMeta meta) {
    this.requestId = requestId;
    this.bodyField = bodyField;
    this.objects = objects;
    this.meta = meta;
  }

  /**
   * The answer to a listing: its entries in order, as many as fit in {@code maxBytes}, marked
   * truncated when some did not fit or the listing was already cut.
   */
  static MetaFrames list(long requestId, Listing listing, long maxBytes) {
    MetaFrames f = new MetaFrames(requestId, Response.LIST_FIELD_NUMBER, listing.objects(), null);
    f.measureList(listing.truncated(), maxBytes);
    return f;
  }

  /** The answer to a get_meta; the caller refuses it if its {@link #size} is more than an answer may take. */
  static MetaFrames getMeta(long requestId, ObjectMeta meta) {
    MetaFrames f = new MetaFrames(requestId, Response.GET_META_FIELD_NUMBER, null, meta);
    long m = f.metaSize(meta);
    f.measured(CodedOutputStream.computeTagSize(GetMetaResponse.META_FIELD_NUMBER) + CodedOutputStream.computeUInt32SizeNoTag(checkedInt(m)) + m);
    return f;
  }

  /** Bytes of the {@code Response} (the frame is 4 more: its length). */
  int size() {
    return size;
  }

  private void measureList(boolean cut, long maxBytes) {
    truncated = cut;
    long budget = LISTING_ENVELOPE;
    long body = 0;
    for (ObjectInfo o : objects) {
      int mark = count;
      long n = entrySize(o);
      budget += n + 1 + CodedOutputStream.computeUInt32SizeNoTag(checkedInt(n));
      if (budget > maxBytes) {
        count = mark;
        truncated = true;
        break;
      }
      body += CodedOutputStream.computeTagSize(ListResponse.ENTRIES_FIELD_NUMBER) + CodedOutputStream.computeUInt32SizeNoTag((int) n) + n;
      kept++;
    }
    if (truncated) {
      body += CodedOutputStream.computeBoolSize(ListResponse.TRUNCATED_FIELD_NUMBER, true);
    }
    measured(body);
  }

  private void measured(long body) {
    bodySize = checkedInt(body);
    long n = requestId == 0 ? 0 : CodedOutputStream.computeUInt64Size(Response.REQUEST_ID_FIELD_NUMBER, requestId);
    size = checkedInt(n + CodedOutputStream.computeTagSize(bodyField) + CodedOutputStream.computeUInt32SizeNoTag(bodySize) + bodySize);
  }

  /** Writes the {@code Response}, exactly {@link #size} bytes; once. */
  void writeTo(CodedOutputStream to) throws IOException {
    if (out != null) {
      throw new IllegalStateException("an answer is written once");
    }
    out = to;
    int before = out.spaceLeft();
    try {
      writeBody();
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    if (before - out.spaceLeft() != size || cursor != count) {
      throw new IllegalStateException("an answer's encoding took " + (before - out.spaceLeft()) + " of the " + size + " bytes measured");
    }
  }

  private void writeBody() throws IOException {
    if (requestId != 0) {
      out.writeUInt64(Response.REQUEST_ID_FIELD_NUMBER, requestId);
    }
    out.writeTag(bodyField, LEN);
    out.writeUInt32NoTag(bodySize);
    if (objects == null) {
      out.writeTag(GetMetaResponse.META_FIELD_NUMBER, LEN);
      out.writeUInt32NoTag(sizes[cursor]);
      writeMeta(meta);
    } else {
      for (int i = 0; i < kept; i++) {
        ObjectInfo o = objects.get(i);
        out.writeTag(ListResponse.ENTRIES_FIELD_NUMBER, LEN);
        out.writeUInt32NoTag(entrySizeWritten(o));
        out.writeTag(ListEntry.META_FIELD_NUMBER, LEN);
        out.writeUInt32NoTag(sizes[cursor]);
        writeMeta(o.meta());
        List<String> names = o.names();
        for (int k = 0; k < names.size(); k++) {
          out.writeString(ListEntry.NAMES_FIELD_NUMBER, names.get(k));
        }
      }
      if (truncated) {
        out.writeBool(ListResponse.TRUNCATED_FIELD_NUMBER, true);
      }
    }
  }

  // ---------------------------------------------------------------- measuring

  private long entrySize(ObjectInfo o) {
    long m = metaSize(o.meta());
    long n = CodedOutputStream.computeTagSize(ListEntry.META_FIELD_NUMBER) + CodedOutputStream.computeUInt32SizeNoTag(checkedInt(m)) + m;
    List<String> names = o.names();
    for (int i = 0; i < names.size(); i++) {
      n += CodedOutputStream.computeStringSize(ListEntry.NAMES_FIELD_NUMBER, names.get(i));
    }
    return n;
  }

  /** The entry's size again while writing: its metadata's size is the next slot, not measured again. */
  private int entrySizeWritten(ObjectInfo o) {
    int m = sizes[cursor];
    long n = CodedOutputStream.computeTagSize(ListEntry.META_FIELD_NUMBER) + CodedOutputStream.computeUInt32SizeNoTag(m) + m;
    List<String> names = o.names();
    for (int i = 0; i < names.size(); i++) {
      n += CodedOutputStream.computeStringSize(ListEntry.NAMES_FIELD_NUMBER, names.get(i));
    }
    return (int) n;
  }

  /**
   * What {@link #metaSize} has counted of the object it measures. The maps are walked with
   * {@code forEach} and these two visitors, made once: iterating them would allocate an iterator and
   * an entry view per field and member, per pass, a good part of a listing's garbage.
   */
  private long counted;
  private final BiConsumer<String, Object> sizeField =
      (k, v) -> counted += mapEntrySize(io.vineyard.proto.ipc.ObjectMeta.FIELDS_FIELD_NUMBER, k, valueSize(v));
  private final BiConsumer<String, ObjectMeta> sizeMember = (k, v) -> {
    long mine = counted;
    int size = checkedInt(metaSize(v)); // leaves counted as it found it
    counted = mine + mapEntrySize(io.vineyard.proto.ipc.ObjectMeta.MEMBERS_FIELD_NUMBER, k, size);
  };

  /** The size of {@code m}'s message, recording it and its members' in {@link #sizes}. */
  private long metaSize(ObjectMeta m) {
    int slot = count;
    if (count == sizes.length) {
      sizes = Arrays.copyOf(sizes, count * 2);
    }
    count++;
    long outer = counted;
    counted = scalarsSize(m);
    m.fields().forEach(sizeField);
    m.members().forEach(sizeMember);
    long n = counted;
    counted = outer;
    sizes[slot] = checkedInt(n);
    return n;
  }

  private static long scalarsSize(ObjectMeta m) {
    long n = 0;
    long id = m.id() == null ? 0 : m.id().value();
    if (id != 0) {
      n += CodedOutputStream.computeUInt64Size(io.vineyard.proto.ipc.ObjectMeta.ID_FIELD_NUMBER, id);
    }
    if (!m.typename().isEmpty()) {
      n += CodedOutputStream.computeStringSize(io.vineyard.proto.ipc.ObjectMeta.TYPENAME_FIELD_NUMBER, m.typename());
    }
    if (m.nbytes() != 0) {
      n += CodedOutputStream.computeUInt64Size(io.vineyard.proto.ipc.ObjectMeta.NBYTES_FIELD_NUMBER, m.nbytes());
    }
    if (m.instanceId() != 0) {
      n += CodedOutputStream.computeUInt64Size(io.vineyard.proto.ipc.ObjectMeta.INSTANCE_ID_FIELD_NUMBER, m.instanceId());
    }
    if (m.isGlobal()) {
      n += CodedOutputStream.computeBoolSize(io.vineyard.proto.ipc.ObjectMeta.GLOBAL_FIELD_NUMBER, true);
    }
    return n;
  }

  /** A map field's entry: the key (field 1) and a message value (field 2) of {@code valueSize} bytes. */
  private static long mapEntrySize(int field, String key, int valueSize) {
    int e = mapEntryBodySize(key, valueSize);
    return CodedOutputStream.computeTagSize(field) + CodedOutputStream.computeUInt32SizeNoTag(e) + e;
  }

  private static int mapEntryBodySize(String key, int valueSize) {
    long e = CodedOutputStream.computeStringSize(1, key) + CodedOutputStream.computeTagSize(2)
        + CodedOutputStream.computeUInt32SizeNoTag(valueSize) + (long) valueSize;
    return checkedInt(e);
  }

  /** A {@code FieldValue}: its one value is written even when it is a default (0, false, ""): that is how a oneof says which is set. */
  private static int valueSize(Object v) {
    return switch (v) {
      case String s -> CodedOutputStream.computeStringSize(FieldValue.STRING_VALUE_FIELD_NUMBER, s);
      case Long l -> CodedOutputStream.computeSInt64Size(FieldValue.INT_VALUE_FIELD_NUMBER, l);
      case Double d -> CodedOutputStream.computeDoubleSize(FieldValue.DOUBLE_VALUE_FIELD_NUMBER, d);
      case Boolean z -> CodedOutputStream.computeBoolSize(FieldValue.BOOL_VALUE_FIELD_NUMBER, z);
      case ObjectMeta.Json j -> CodedOutputStream.computeStringSize(FieldValue.JSON_VALUE_FIELD_NUMBER, j.text());
      default -> throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "unsupported field value " + v);
    };
  }

  private static int checkedInt(long n) {
    if (n > Integer.MAX_VALUE) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "an answer of " + n + " bytes cannot be encoded");
    }
    return (int) n;
  }

  // ---------------------------------------------------------------- writing

  /** Writes {@code m}'s message (its length already written), in the order {@link #metaSize} measured it. */
  private void writeMeta(ObjectMeta m) throws IOException {
    cursor++;
    long id = m.id() == null ? 0 : m.id().value();
    if (id != 0) {
      out.writeUInt64(io.vineyard.proto.ipc.ObjectMeta.ID_FIELD_NUMBER, id);
    }
    if (!m.typename().isEmpty()) {
      out.writeString(io.vineyard.proto.ipc.ObjectMeta.TYPENAME_FIELD_NUMBER, m.typename());
    }
    if (m.nbytes() != 0) {
      out.writeUInt64(io.vineyard.proto.ipc.ObjectMeta.NBYTES_FIELD_NUMBER, m.nbytes());
    }
    if (m.instanceId() != 0) {
      out.writeUInt64(io.vineyard.proto.ipc.ObjectMeta.INSTANCE_ID_FIELD_NUMBER, m.instanceId());
    }
    if (m.isGlobal()) {
      out.writeBool(io.vineyard.proto.ipc.ObjectMeta.GLOBAL_FIELD_NUMBER, true);
    }
    m.fields().forEach(writeField);
    m.members().forEach(writeMember);
  }

  /** Where {@link #writeMeta} writes, for its visitors (made once, as {@link #sizeField}). */
  private CodedOutputStream out;
  private final BiConsumer<String, Object> writeField = (k, v) -> {
    try {
      writeEntryHead(out, io.vineyard.proto.ipc.ObjectMeta.FIELDS_FIELD_NUMBER, k, valueSize(v));
      writeValue(out, v);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  };
  private final BiConsumer<String, ObjectMeta> writeMember = (k, v) -> {
    try {
      writeEntryHead(out, io.vineyard.proto.ipc.ObjectMeta.MEMBERS_FIELD_NUMBER, k, sizes[cursor]);
      writeMeta(v);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  };

  private static void writeEntryHead(CodedOutputStream out, int field, String key, int valueSize) throws IOException {
    out.writeTag(field, LEN);
    out.writeUInt32NoTag(mapEntryBodySize(key, valueSize));
    out.writeString(1, key);
    out.writeTag(2, LEN);
    out.writeUInt32NoTag(valueSize);
  }

  private static void writeValue(CodedOutputStream out, Object v) throws IOException {
    switch (v) {
      case String s -> out.writeString(FieldValue.STRING_VALUE_FIELD_NUMBER, s);
      case Long l -> out.writeSInt64(FieldValue.INT_VALUE_FIELD_NUMBER, l);
      case Double d -> out.writeDouble(FieldValue.DOUBLE_VALUE_FIELD_NUMBER, d);
      case Boolean z -> out.writeBool(FieldValue.BOOL_VALUE_FIELD_NUMBER, z);
      case ObjectMeta.Json j -> out.writeString(FieldValue.JSON_VALUE_FIELD_NUMBER, j.text());
      default -> throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "unsupported field value " + v);
    }
  }
}
