package io.vineyard.cli;

import io.vineyard.internal.Escapes;
import java.io.PrintStream;
import java.util.List;

/**
 * Prints rows as left-aligned columns separated by two spaces. Cells are printed escaped (see
 * {@link Escapes}): names and fields are other people's text, and must not reach a terminal raw.
 */
final class Table {

  private Table() {}

  static void print(PrintStream out, List<String[]> raw) {
    List<String[]> rows = raw.stream().map(r -> java.util.Arrays.stream(r).map(Escapes::printable).toArray(String[]::new)).toList();
    int columns = rows.getFirst().length;
    int[] width = new int[columns];
    for (String[] row : rows) {
      for (int i = 0; i < columns; i++) {
        width[i] = Math.max(width[i], row[i].length());
      }
    }
    for (String[] row : rows) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < columns; i++) {
        b.append(row[i]);
        if (i < columns - 1) {
          b.append(" ".repeat(width[i] - row[i].length() + 2));
        }
      }
      out.println(b.toString().stripTrailing());
    }
  }
}
