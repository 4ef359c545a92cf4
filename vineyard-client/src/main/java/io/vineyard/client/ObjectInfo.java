package io.vineyard.client;

import io.vineyard.ObjectMeta;
import java.util.List;

/**
 * One entry of a listing: an object's metadata and the names bound to it.
 *
 * @param meta the object's metadata tree
 * @param names names bound to the object, sorted
 */
public record ObjectInfo(ObjectMeta meta, List<String> names) {
  public ObjectInfo {
    names = List.copyOf(names);
  }
}
