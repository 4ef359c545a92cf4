package io.vineyard.objects;

import io.vineyard.ObjectMeta;

/**
 * A type of object the store can hand back typed: its type name in metadata and how to open an object
 * of that type from its metadata. Register new types with {@link ObjectTypes#register}, or list them
 * in {@code META-INF/services/io.vineyard.objects.ObjectType} to be found on the class path; the
 * daemon needs to know nothing of them.
 *
 * @param <T> the Java class of opened objects
 */
public interface ObjectType<T extends VineyardObject> {

  /** The type name in metadata, e.g. {@code vineyard::DataFrame}. */
  String typename();

  /** The Java class of opened objects. */
  Class<T> objectClass();

  /**
   * Opens the object described by {@code meta} (whose typename is {@link #typename()}), getting its
   * blobs and members through {@code context}.
   */
  T open(ObjectContext context, ObjectMeta meta);

  /** A type from its parts. */
  static <T extends VineyardObject> ObjectType<T> of(String typename, Class<T> objectClass, Opener<T> opener) {
    return new ObjectType<>() {
      @Override
      public String typename() {
        return typename;
      }

      @Override
      public Class<T> objectClass() {
        return objectClass;
      }

      @Override
      public T open(ObjectContext context, ObjectMeta meta) {
        return opener.open(context, meta);
      }

      @Override
      public String toString() {
        return typename + " -> " + objectClass.getName();
      }
    };
  }

  /** Opens an object of one type. */
  @FunctionalInterface
  interface Opener<T> {
    T open(ObjectContext context, ObjectMeta meta);
  }
}
