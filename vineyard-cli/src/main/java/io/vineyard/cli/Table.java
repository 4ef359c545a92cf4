package io.vineyard.cli;

import java.io.PrintStream;
import java.util.List;

/** Prints rows as left-aligned columns separated by two spaces. */
final class Table {

  private Table() {}

  static void print(PrintStream out, List<String[]> rows) {
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
