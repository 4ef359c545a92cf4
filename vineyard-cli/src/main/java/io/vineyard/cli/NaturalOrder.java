package io.vineyard.cli;

import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Orders names as people read them: runs of digits by their value, so {@code buffer_2} comes before
 * {@code buffer_10}; everything else character by character.
 */
final class NaturalOrder implements Comparator<String> {

  static final NaturalOrder INSTANCE = new NaturalOrder();

  private NaturalOrder() {}

  @Override
  public int compare(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      char x = a.charAt(i);
      char y = b.charAt(j);
      if (isDigit(x) && isDigit(y)) {
        int endA = digitsEnd(a, i);
        int endB = digitsEnd(b, j);
        String na = stripZeros(a.substring(i, endA));
        String nb = stripZeros(b.substring(j, endB));
        int c = na.length() != nb.length() ? Integer.compare(na.length(), nb.length()) : na.compareTo(nb);
        if (c != 0) {
          return c;
        }
        i = endA;
        j = endB;
      } else {
        if (x != y) {
          return Character.compare(x, y);
        }
        i++;
        j++;
      }
    }
    int c = Integer.compare(a.length() - i, b.length() - j);
    return c != 0 ? c : a.compareTo(b); // equal up to leading zeros: still a total order
  }

  /** A map's entries in this order of their keys. */
  static <V> List<Map.Entry<String, V>> sorted(Map<String, V> map) {
    return map.entrySet().stream().sorted(Map.Entry.comparingByKey(INSTANCE)).toList();
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static int digitsEnd(String s, int from) {
    int k = from;
    while (k < s.length() && isDigit(s.charAt(k))) {
      k++;
    }
    return k;
  }

  private static String stripZeros(String digits) {
    int k = 0;
    while (k < digits.length() - 1 && digits.charAt(k) == '0') {
      k++;
    }
    return digits.substring(k);
  }
}
