package io.vineyard.cli;

/**
 * How put and get treat an object's data: raw blob bytes, or a table as CSV or Arrow IPC. The
 * constants are lower case because picocli prints them as the choices users type.
 */
enum TableFormat {
  blob,
  csv,
  arrow
}
