package io.vineyard.server.records;

import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import java.util.Objects;

/**
 * One value the daemon persists, in domain types: what {@link RecordCodec} encodes and decodes. The
 * set is closed so that a decoder handles every kind; blob records (for the daemon's local journal)
 * will be one more.
 */
public sealed interface StoredRecord {

  /** A persisted object's metadata tree, members expanded. */
  record Tree(ObjectMeta meta) implements StoredRecord {
    public Tree {
      Objects.requireNonNull(meta, "meta");
    }
  }

  /** A daemon's instance record. */
  record Instance(InstanceInfo info) implements StoredRecord {
    public Instance {
      Objects.requireNonNull(info, "info");
    }
  }

  /** A name bound to an object. */
  record Name(String name, ObjectId id) implements StoredRecord {
    public Name {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(id, "id");
    }
  }
}
