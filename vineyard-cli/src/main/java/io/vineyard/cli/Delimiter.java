package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;

/** Reads a {@code --delimiter} value: one character, or a name for one that is hard to type. */
final class Delimiter {
  private Delimiter() {}

  static final String HELP = "The CSV field separator: one character, or tab, \\t, semicolon, pipe, space (default: ,).";

  static char parse(String text) {
    return switch (text) {
      case "tab", "\\t", "\t" -> '\t';
      case "semicolon" -> ';';
      case "pipe" -> '|';
      case "space" -> ' ';
      case "comma" -> ',';
      default -> {
        if (text.length() != 1) {
          throw new VineyardException(
              ErrorCode.INVALID_ARGUMENT, "--delimiter takes one character or tab, \\t, semicolon, pipe, space; got '" + text + "'");
        }
        yield text.charAt(0);
      }
    };
  }
}
