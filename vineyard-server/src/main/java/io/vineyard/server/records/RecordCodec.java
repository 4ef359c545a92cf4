package io.vineyard.server.records;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.proto.records.v1.Field;
import io.vineyard.proto.records.v1.InstanceRecord;
import io.vineyard.proto.records.v1.Member;
import io.vineyard.proto.records.v1.NameBinding;
import io.vineyard.proto.records.v1.ObjectTree;
import io.vineyard.proto.records.v1.Record;
import java.io.IOException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The persisted form of the daemon's records: what goes into etcd as values (and, later, into the
 * daemon's local journal). A value is
 *
 * <pre>
 *   "VYR" | format version (unsigned varint, now 1) | vineyard.records.v1.Record (protobuf)
 * </pre>
 *
 * <p>The body is protobuf from {@code records.proto}, a schema of its own: its messages are never
 * sent on the wire, and the IPC messages are never persisted, so either can change without the
 * other. The format version is independent of the IPC protocol version.
 *
 * <p>Why protobuf rather than JSON an operator could read with {@code etcdctl get}: values must
 * carry every field value exactly (a JSON number cannot hold NaN, infinities or -0.0 portably, and
 * int64 past 2^53 is lost by many JSON readers, so those would need string escapes of our own);
 * metadata trees are limited to 1 MiB per etcd value and protobuf is several times smaller than the
 * same tree in JSON; and the project already generates and tests protobuf code. The cost is that
 * {@code etcdctl} shows bytes: strip the 4-byte header and {@code protoc --decode
 * vineyard.records.v1.Record vineyard/records.proto} prints a value (docs/cluster.md).
 *
 * <p>Decoding refuses, with an {@link UnreadableRecordException}, a value without the header, with a
 * version other than {@link #FORMAT_VERSION}, whose body does not parse or does not make a valid
 * record, or (for the typed decoders) of another kind. Encoding is deterministic: fields and members
 * are written sorted by name, so equal records give equal bytes (etcd compares values by bytes).
 *
 * <p>Within one format version the schema only gains fields; a change that readers of this version
 * would misread needs a new version, which this daemon then refuses to read.
 */
public final class RecordCodec {

  /** The format version this daemon writes and the only one it reads. */
  public static final int FORMAT_VERSION = 1;

  /**
   * The deepest metadata tree encoded or decoded, in levels (a blob under 255 levels of objects).
   * Far above what the IPC protocol carries (protobuf's default nesting limit of 100 allows about 50
   * levels), and low enough that the recursive encoding stays well inside a thread's stack.
   */
  public static final int MAX_TREE_DEPTH = 256;

  private static final byte[] MAGIC = {'V', 'Y', 'R'};
  /** Per tree level the parser descends two messages (Member, ObjectTree), plus the envelope. */
  private static final int RECURSION_LIMIT = 2 * MAX_TREE_DEPTH + 4;

  private RecordCodec() {}

  // ---------------------------------------------------------------- any record

  /** Encodes a record, header included. */
  public static byte[] encode(StoredRecord record) {
    Record.Builder b = Record.newBuilder();
    switch (record) {
      case StoredRecord.Tree t -> b.setObject(tree(t.meta(), 1));
      case StoredRecord.Instance i -> b.setInstance(instance(i.info()));
      case StoredRecord.Name n -> b.setName(name(n.name(), n.id()));
    }
    return frame(b.build());
  }

  /**
   * Decodes a value of any kind.
   *
   * @throws UnreadableRecordException when it is not a record of format {@link #FORMAT_VERSION}
   */
  public static StoredRecord decode(byte[] value) {
    Record r = unframe(value);
    try {
      return switch (r.getKindCase()) {
        case OBJECT -> new StoredRecord.Tree(meta(r.getObject(), 1));
        case INSTANCE -> new StoredRecord.Instance(info(r.getInstance()));
        case NAME -> binding(r.getName());
        case KIND_NOT_SET -> throw corrupt("a record of no kind this daemon knows", null);
      };
    } catch (UnreadableRecordException e) {
      throw e;
    } catch (VineyardException | IllegalArgumentException e) {
      throw corrupt(e instanceof VineyardException v ? v.reason() : e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------- typed shortcuts

  /** Encodes an object's metadata tree; every object in it must have an id. */
  public static byte[] encodeTree(ObjectMeta tree) {
    return encode(new StoredRecord.Tree(tree));
  }

  /** Decodes an object's metadata tree; refuses a record of another kind. */
  public static ObjectMeta decodeTree(byte[] value) {
    return expect(decode(value), StoredRecord.Tree.class, "an object tree").meta();
  }

  public static byte[] encodeInstance(InstanceInfo info) {
    return encode(new StoredRecord.Instance(info));
  }

  public static InstanceInfo decodeInstance(byte[] value) {
    return expect(decode(value), StoredRecord.Instance.class, "an instance record").info();
  }

  public static byte[] encodeName(String name, ObjectId id) {
    return encode(new StoredRecord.Name(name, id));
  }

  public static StoredRecord.Name decodeName(byte[] value) {
    return expect(decode(value), StoredRecord.Name.class, "a name binding");
  }

  private static <T extends StoredRecord> T expect(StoredRecord r, Class<T> kind, String what) {
    if (!kind.isInstance(r)) {
      throw new UnreadableRecordException(
          UnreadableRecordException.Reason.WRONG_KIND,
          "expected " + what + ", found a " + r.getClass().getSimpleName().toLowerCase() + " record",
          null);
    }
    return kind.cast(r);
  }

  // ---------------------------------------------------------------- header

  private static byte[] frame(Record body) {
    int size = body.getSerializedSize();
    byte[] out = new byte[MAGIC.length + CodedOutputStream.computeUInt32SizeNoTag(FORMAT_VERSION) + size];
    try {
      CodedOutputStream o = CodedOutputStream.newInstance(out);
      o.writeRawBytes(MAGIC);
      o.writeUInt32NoTag(FORMAT_VERSION);
      body.writeTo(o);
      o.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.INTERNAL, "encoding a record: " + e.getMessage(), e);
    }
    return out;
  }

  private static Record unframe(byte[] value) {
    if (value.length < MAGIC.length + 1
        || value[0] != MAGIC[0] || value[1] != MAGIC[1] || value[2] != MAGIC[2]) {
      throw new UnreadableRecordException(
          UnreadableRecordException.Reason.NOT_A_RECORD,
          "not a vineyard record (no 'VYR' header; starts with "
              + HexFormat.of().formatHex(value, 0, Math.min(8, value.length)) + "): written by something else, or by a"
              + " daemon older than format version 1",
          null);
    }
    CodedInputStream in = CodedInputStream.newInstance(value, MAGIC.length, value.length - MAGIC.length);
    int version;
    try {
      version = in.readUInt32();
    } catch (IOException e) {
      throw corrupt("the format version does not parse", e);
    }
    if (version != FORMAT_VERSION) {
      throw new UnreadableRecordException(
          UnreadableRecordException.Reason.UNKNOWN_VERSION,
          "record format version " + Integer.toUnsignedString(version) + " is unknown to this daemon, which reads"
              + " version " + FORMAT_VERSION + (Integer.compareUnsigned(version, FORMAT_VERSION) > 0
                  ? " (written by a newer daemon: upgrade this one)" : ""),
          null);
    }
    in.setRecursionLimit(RECURSION_LIMIT);
    try {
      return Record.parseFrom(in);
    } catch (IOException e) { // InvalidProtocolBufferException, mostly
      throw corrupt("the body does not parse: " + e.getMessage(), e);
    }
  }

  private static UnreadableRecordException corrupt(String why, Throwable cause) {
    return new UnreadableRecordException(
        UnreadableRecordException.Reason.CORRUPT, "corrupt record (format version " + FORMAT_VERSION + "): " + why, cause);
  }

  // ---------------------------------------------------------------- object trees

  private static ObjectTree tree(ObjectMeta m, int depth) {
    if (depth > MAX_TREE_DEPTH) {
      throw invalid("metadata tree deeper than " + MAX_TREE_DEPTH + " levels");
    }
    if (m.id() == null) {
      throw invalid("object " + m.typename() + " in the tree has no id: only stored objects are persisted");
    }
    ObjectTree.Builder b =
        ObjectTree.newBuilder()
            .setId(m.id().value())
            .setTypename(text("typename", m.typename()))
            .setNbytes(m.nbytes())
            .setInstanceId(m.instanceId())
            .setGlobal(m.isGlobal());
    // ObjectMeta keeps fields and members sorted by name: the output is deterministic.
    m.fields().forEach((name, v) -> {
      Field.Builder f = Field.newBuilder().setName(text("field name", name));
      switch (v) {
        case String s -> f.setText(text("field '" + name + "'", s));
        case Long l -> f.setInteger(l);
        case Double d -> f.setReal(d);
        case Boolean z -> f.setFlag(z);
        case ObjectMeta.Json j -> f.setJson(text("field '" + name + "'", j.text()));
        default -> throw invalid("field '" + name + "' has unsupported type " + v.getClass().getName());
      }
      b.addFields(f);
    });
    m.members().forEach((name, member) ->
        b.addMembers(Member.newBuilder().setName(text("member name", name)).setObject(tree(member, depth + 1))));
    return b.build();
  }

  private static ObjectMeta meta(ObjectTree t, int depth) {
    if (depth > MAX_TREE_DEPTH) {
      throw corrupt("metadata tree deeper than " + MAX_TREE_DEPTH + " levels", null);
    }
    if (t.getId() == 0) {
      throw corrupt("an object without id", null);
    }
    ObjectId id = new ObjectId(t.getId());
    if (t.getTypename().isEmpty()) {
      if (t.getFieldsCount() > 0 || t.getMembersCount() > 0) {
        throw corrupt("reference " + id + " has fields or members", null);
      }
      return ObjectMeta.reference(id);
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    for (Field f : t.getFieldsList()) {
      Object v = switch (f.getValueCase()) {
        case TEXT -> f.getText();
        case INTEGER -> f.getInteger();
        case REAL -> f.getReal();
        case FLAG -> f.getFlag();
        case JSON -> new ObjectMeta.Json(f.getJson());
        case VALUE_NOT_SET -> throw corrupt("field '" + f.getName() + "' of " + id + " has no value", null);
      };
      if (fields.put(f.getName(), v) != null) {
        throw corrupt("field '" + f.getName() + "' of " + id + " appears twice", null);
      }
    }
    Map<String, ObjectMeta> members = new LinkedHashMap<>();
    for (Member mb : t.getMembersList()) {
      if (mb.getName().isEmpty() || !mb.hasObject()) {
        throw corrupt("a member of " + id + " has no name or no object", null);
      }
      if (members.put(mb.getName(), meta(mb.getObject(), depth + 1)) != null) {
        throw corrupt("member '" + mb.getName() + "' of " + id + " appears twice", null);
      }
    }
    return ObjectMeta.of(id, t.getTypename(), t.getNbytes(), t.getInstanceId(), t.getGlobal(), fields, members);
  }

  // ---------------------------------------------------------------- instances and names

  private static InstanceRecord instance(InstanceInfo i) {
    if (i.startedAt() == null) {
      throw invalid("instance " + i.id() + " has no start time");
    }
    return InstanceRecord.newBuilder()
        .setId(i.id())
        .setHostname(text("hostname", i.hostname()))
        .setIpcSocket(text("ipc socket", i.ipcSocket()))
        .setRpcEndpoint(text("rpc endpoint", i.rpcEndpoint()))
        .setUsedBytes(i.usedBytes())
        .setCapacityBytes(i.capacityBytes())
        .setStartedAtSeconds(i.startedAt().getEpochSecond())
        .setStartedAtNanos(i.startedAt().getNano())
        .setDaemonVersion(text("daemon version", i.daemonVersion()))
        .build();
  }

  private static InstanceInfo info(InstanceRecord r) {
    return new InstanceInfo(
        r.getId(),
        r.getHostname(),
        r.getIpcSocket(),
        r.getRpcEndpoint(),
        r.getUsedBytes(),
        r.getCapacityBytes(),
        Instant.ofEpochSecond(r.getStartedAtSeconds(), r.getStartedAtNanos()),
        r.getDaemonVersion());
  }

  private static NameBinding name(String name, ObjectId id) {
    if (name.isEmpty()) {
      throw invalid("a name must not be empty");
    }
    return NameBinding.newBuilder().setName(text("name", name)).setObjectId(id.value()).build();
  }

  private static StoredRecord.Name binding(NameBinding n) {
    if (n.getName().isEmpty()) {
      throw corrupt("a name binding without name", null);
    }
    return new StoredRecord.Name(n.getName(), new ObjectId(n.getObjectId()));
  }

  // ---------------------------------------------------------------- checks

  /**
   * Refuses null and text that is not valid Unicode (an unpaired surrogate), which protobuf would
   * silently write as '?': what is persisted must read back exactly.
   */
  private static String text(String what, String s) {
    if (s == null) {
      throw invalid(what + " is missing");
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw invalid(what + " is not valid Unicode (unpaired surrogate at index " + i + ")");
      }
    }
    return s;
  }

  private static VineyardException invalid(String why) {
    return new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot persist: " + why);
  }
}
