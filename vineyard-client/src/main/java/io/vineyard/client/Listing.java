package io.vineyard.client;

import java.util.List;

/**
 * A listing of objects and whether a limit cut it short.
 *
 * @param objects the objects listed, oldest first; members appear as references by id
 * @param truncated more objects match than were returned
 */
public record Listing(List<ObjectInfo> objects, boolean truncated) {
  public Listing {
    objects = List.copyOf(objects);
  }
}
