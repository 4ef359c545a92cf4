package io.vineyard.objects;

import io.vineyard.ObjectMeta;

/** A type from outside the module, found through META-INF/services in the tests. */
public final class PointType implements ObjectType<PointType.Point> {

  /** A point stored as metadata fields only. */
  public record Point(ObjectMeta meta) implements VineyardObject {
    double length() {
      return Math.hypot(meta.getLong("x"), meta.getLong("y"));
    }

    @Override
    public void close() {}
  }

  @Override
  public String typename() {
    return "test::Point";
  }

  @Override
  public Class<Point> objectClass() {
    return Point.class;
  }

  @Override
  public Point open(ObjectContext context, ObjectMeta meta) {
    return new Point(meta);
  }
}
