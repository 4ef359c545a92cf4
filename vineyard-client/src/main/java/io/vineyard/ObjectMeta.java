package io.vineyard;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * An object's metadata: an immutable tree of a type name, scalar fields and named members, which are
 * other objects (ultimately blobs).
 *
 * <p>To create an object, build its metadata with {@link #builder(String)}, naming existing objects
 * as members by id, and pass it to the client's {@code putMeta}; the daemon assigns the id and
 * returns it. Metadata read back from the daemon has every member expanded to its full metadata.
 * Field values are {@link String}, {@link Long}, {@link Double}, {@link Boolean} or {@link Json}.
 */
public final class ObjectMeta {

  /** The type name of a blob. */
  public static final String BLOB_TYPENAME = "vineyard::Blob";

  /** A field value that holds a JSON document as text. */
  public record Json(String text) {
    public Json {
      Objects.requireNonNull(text, "text");
    }
  }

  private final ObjectId id;
  private final String typename;
  private final long nbytes;
  private final long instanceId;
  private final boolean global;
  private final Map<String, Object> fields;
  private final Map<String, ObjectMeta> members;

  private ObjectMeta(
      ObjectId id,
      String typename,
      long nbytes,
      long instanceId,
      boolean global,
      Map<String, Object> fields,
      Map<String, ObjectMeta> members) {
    this.id = id;
    this.typename = typename;
    this.nbytes = nbytes;
    this.instanceId = instanceId;
    this.global = global;
    this.fields = Collections.unmodifiableMap(new TreeMap<>(fields));
    this.members = Collections.unmodifiableMap(new TreeMap<>(members));
  }

  /** A builder of new metadata of the given type. */
  public static Builder builder(String typename) {
    return new Builder(typename);
  }

  /** A member that names an existing object by id only (for use in {@link Builder#member}). */
  public static ObjectMeta reference(ObjectId id) {
    return new ObjectMeta(Objects.requireNonNull(id, "id"), "", 0, 0, false, Map.of(), Map.of());
  }

  /** Used by the wire layers: metadata with every part given. */
  public static ObjectMeta of(
      ObjectId id,
      String typename,
      long nbytes,
      long instanceId,
      boolean global,
      Map<String, Object> fields,
      Map<String, ObjectMeta> members) {
    fields.forEach(ObjectMeta::checkField);
    return new ObjectMeta(id, typename, nbytes, instanceId, global, fields, members);
  }

  /** The id; {@code null} for metadata built locally and not yet stored. */
  public ObjectId id() {
    return id;
  }

  public String typename() {
    return typename;
  }

  /** Total bytes of the blobs this object holds (each counted once). */
  public long nbytes() {
    return nbytes;
  }

  /** The instance that holds the object. */
  public long instanceId() {
    return instanceId;
  }

  public boolean isGlobal() {
    return global;
  }

  /** Whether this entry only names an object by id (see {@link #reference}). */
  public boolean isReference() {
    return id != null && typename.isEmpty();
  }

  public boolean isBlob() {
    return id != null && id.isBlob();
  }

  /** Fields by name, sorted. */
  public Map<String, Object> fields() {
    return fields;
  }

  /** Members by name, sorted. */
  public Map<String, ObjectMeta> members() {
    return members;
  }

  public Set<String> memberNames() {
    return members.keySet();
  }

  /**
   * The member of that name.
   *
   * @throws VineyardException with {@link ErrorCode#NOT_FOUND} when there is none
   */
  public ObjectMeta member(String name) {
    ObjectMeta m = members.get(name);
    if (m == null) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "object " + id + " has no member '" + name + "'");
    }
    return m;
  }

  public boolean hasField(String name) {
    return fields.containsKey(name);
  }

  /** A string field (any scalar is rendered as text). */
  public String getString(String name) {
    Object v = field(name);
    return v instanceof Json j ? j.text() : v.toString();
  }

  public long getLong(String name) {
    Object v = field(name);
    if (v instanceof Long l) {
      return l;
    }
    if (v instanceof String s) {
      try {
        return Long.parseLong(s);
      } catch (NumberFormatException e) {
        // fall through to the error below
      }
    }
    throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "field '" + name + "' is not an integer: " + v);
  }

  public double getDouble(String name) {
    Object v = field(name);
    if (v instanceof Number n) {
      return n.doubleValue();
    }
    throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "field '" + name + "' is not a number: " + v);
  }

  public boolean getBoolean(String name) {
    Object v = field(name);
    if (v instanceof Boolean b) {
      return b;
    }
    throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "field '" + name + "' is not a boolean: " + v);
  }

  private Object field(String name) {
    Object v = fields.get(name);
    if (v == null) {
      throw new VineyardException(ErrorCode.NOT_FOUND, "object " + id + " has no field '" + name + "'");
    }
    return v;
  }

  private static void checkField(String name, Object value) {
    if (name == null || name.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "field names must not be empty");
    }
    if (!(value instanceof String
        || value instanceof Long
        || value instanceof Double
        || value instanceof Boolean
        || value instanceof Json)) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "field '" + name + "' has unsupported type " + (value == null ? "null" : value.getClass().getName()));
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ObjectMeta m
        && Objects.equals(id, m.id)
        && typename.equals(m.typename)
        && nbytes == m.nbytes
        && instanceId == m.instanceId
        && global == m.global
        && fields.equals(m.fields)
        && members.equals(m.members);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, typename, nbytes, instanceId, global, fields, members);
  }

  @Override
  public String toString() {
    return "ObjectMeta{" + (id == null ? "new" : id) + " " + typename + ", nbytes=" + nbytes
        + (global ? ", global" : "") + ", fields=" + fields + ", members=" + members.keySet() + "}";
  }

  /** Builds metadata for a new object. */
  public static final class Builder {
    private final String typename;
    private boolean global;
    private long nbytes;
    private final Map<String, Object> fields = new LinkedHashMap<>();
    private final Map<String, ObjectMeta> members = new LinkedHashMap<>();

    private Builder(String typename) {
      if (typename == null || typename.isBlank()) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "typename must not be empty");
      }
      this.typename = typename;
    }

    public Builder field(String name, String value) {
      return put(name, value);
    }

    public Builder field(String name, long value) {
      return put(name, value);
    }

    public Builder field(String name, double value) {
      return put(name, value);
    }

    public Builder field(String name, boolean value) {
      return put(name, value);
    }

    public Builder jsonField(String name, String json) {
      if (json == null) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "field '" + name + "' has no JSON text");
      }
      return put(name, new Json(json));
    }

    private Builder put(String name, Object value) {
      checkField(name, value);
      fields.put(name, value);
      return this;
    }

    /** Adds an existing object as a member under {@code name}. */
    public Builder member(String name, ObjectId id) {
      if (name == null || name.isEmpty()) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "member names must not be empty");
      }
      members.put(name, reference(id));
      return this;
    }

    /** Marks the object global: its members are objects held on (possibly) other instances. */
    public Builder global(boolean global) {
      this.global = global;
      return this;
    }

    /** Sets nbytes explicitly; left at 0 the daemon sums the distinct blobs under the object. */
    public Builder nbytes(long nbytes) {
      this.nbytes = nbytes;
      return this;
    }

    public ObjectMeta build() {
      return new ObjectMeta(null, typename, nbytes, 0, global, fields, members);
    }
  }
}
