package io.vineyard.cli;

/** How put and get treat an object's data: raw blob bytes, or a table as CSV or Arrow IPC. */
enum TableFormat {
  BLOB,
  CSV,
  ARROW;

  @Override
  public String toString() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
