package io.vineyard.objects;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry that turns an object id into a typed object: one {@link ObjectType} per type name.
 *
 * <p>{@link #defaults()} knows the built-in types (Tensor, DataFrame, Table, Graph, GlobalTensor,
 * GlobalDataFrame) and every type listed under {@code META-INF/services/io.vineyard.objects.ObjectType}
 * on the class path; more can be {@linkplain #register registered} at any time.
 */
public final class ObjectTypes {

  private static final Logger LOG = LoggerFactory.getLogger(ObjectTypes.class);

  private static final class Defaults {
    static final ObjectTypes INSTANCE = loadDefaults();
  }

  private static final class Allocator {
    static final BufferAllocator INSTANCE = new RootAllocator();
  }

  private final Map<String, ObjectType<?>> byTypename = new ConcurrentHashMap<>();

  /** A registry with the built-in types only. */
  public static ObjectTypes builtIn() {
    ObjectTypes t = new ObjectTypes();
    t.register(Tensor.TYPE);
    t.register(DataFrame.TYPE);
    t.register(Table.TYPE);
    t.register(Graph.TYPE);
    t.register(GlobalTensor.TYPE);
    t.register(GlobalDataFrame.TYPE);
    return t;
  }

  /** The process-wide registry: the built-in types and those the class path declares. */
  public static ObjectTypes defaults() {
    return Defaults.INSTANCE;
  }

  /**
   * The built-ins plus what the class path declares. A declared type that cannot be loaded, or whose
   * name is taken, is skipped with a warning: one bad jar must not stop every other type from opening.
   */
  @SuppressWarnings({"rawtypes", "unchecked"})
  private static ObjectTypes loadDefaults() {
    ObjectTypes t = builtIn();
    java.util.Iterator<ObjectType> it = ServiceLoader.load(ObjectType.class, ObjectTypes.class.getClassLoader()).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        t.register((ObjectType<?>) it.next());
      } catch (java.util.ServiceConfigurationError | VineyardException e) {
        LOG.warn("skipping an object type declared on the class path: {}", e.getMessage());
      }
    }
    return t;
  }

  /**
   * The allocator that objects opened without one account their Arrow buffers to: one unbounded root
   * for the process. Wrapped shared memory counts toward it but is never allocated by it.
   */
  public static BufferAllocator defaultAllocator() {
    return Allocator.INSTANCE;
  }

  /**
   * Adds a type.
   *
   * @throws VineyardException {@link ErrorCode#ALREADY_EXISTS} when another type has the name
   */
  public ObjectTypes register(ObjectType<?> type) {
    ObjectType<?> before = byTypename.putIfAbsent(type.typename(), type);
    if (before != null && before != type) {
      throw new VineyardException(
          ErrorCode.ALREADY_EXISTS, "type " + type.typename() + " is registered already (" + before + ")");
    }
    return this;
  }

  public Optional<ObjectType<?>> find(String typename) {
    return Optional.ofNullable(byTypename.get(typename));
  }

  /** The registered type names, sorted. */
  public Set<String> typenames() {
    return new TreeSet<>(byTypename.keySet());
  }

  /** Opens the object {@code id} as whatever type its metadata names, with the default allocator. */
  public VineyardObject open(IpcClient client, ObjectId id) {
    return open(client, id, VineyardObject.class, defaultAllocator());
  }

  /** Opens the object {@code id}, which must be a {@code type}, with the default allocator. */
  public <T extends VineyardObject> T open(IpcClient client, ObjectId id, Class<T> type) {
    return open(client, id, type, defaultAllocator());
  }

  /**
   * Opens the object {@code id}, which must be a {@code type}: one metadata request, one request for
   * all its blobs, and no copy of their bytes.
   *
   * @throws VineyardException {@link ErrorCode#NOT_FOUND} when there is no such object or no type of
   *     its name is registered, {@link ErrorCode#INVALID_ARGUMENT} when it is not a {@code type}
   */
  public <T extends VineyardObject> T open(IpcClient client, ObjectId id, Class<T> type, BufferAllocator allocator) {
    ObjectMeta meta = client.getMeta(id);
    return open(client, meta, type, allocator);
  }

  /** Opens an object from metadata already read (with every member expanded). */
  public <T extends VineyardObject> T open(IpcClient client, ObjectMeta meta, Class<T> type, BufferAllocator allocator) {
    try (ObjectContext context = new ObjectContext(this, client, allocator)) {
      return open(context, meta, type);
    }
  }

  <T extends VineyardObject> T open(ObjectContext context, ObjectMeta meta, Class<T> type) {
    ObjectType<?> t = byTypename.get(meta.typename());
    if (t == null) {
      throw new VineyardException(
          ErrorCode.NOT_FOUND,
          "object " + meta.id() + " has type " + meta.typename() + ", which no registered object type reads"
              + " (known: " + typenames() + ")");
    }
    if (!type.isAssignableFrom(t.objectClass())) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "object " + meta.id() + " is a " + meta.typename() + ", not a " + type.getSimpleName());
    }
    return type.cast(t.open(context, meta));
  }
}
