package io.vineyard.server.store;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.util.HashMap;
import java.util.Map;

/**
 * A glob over type names: {@code *} matches any run of characters, {@code ?} exactly one, every
 * other character itself.
 *
 * <p>The pattern is compiled once into a nondeterministic automaton with one state per pattern
 * position, and a text is run through it one character at a time with all live states kept as bits
 * of a few machine words (the "shift-and" technique): each character costs one pass over {@code
 * pattern length / 64} words, whatever the pattern. There is no backtracking, so no pattern can make
 * a match cost more than that; a pattern of many stars costs no more than one (runs of stars are
 * one star), and the literal text before the first star and after the last is compared first.
 */
public final class Glob {

  /** The longest pattern accepted, in characters. */
  public static final int MAX_PATTERN = 1024;

  private final String pattern;
  /** The pattern as code points, runs of stars collapsed. */
  private final int[] p;
  private final int words;
  /** Per literal code point: the positions it matches (its own and every '?'). */
  private final Map<Integer, long[]> literal = new HashMap<>();
  /** The positions of '?': what any other character matches. */
  private final long[] any;
  /** The positions of '*'. */
  private final long[] stars;
  /** Literal code points before the first star (all of them when there is none) and after the last. */
  private final int prefix;
  private final int suffix;

  /**
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} when longer than {@link #MAX_PATTERN}
   */
  public Glob(String pattern) {
    if (pattern.length() > MAX_PATTERN) {
      throw new VineyardException(
          ErrorCode.INVALID_ARGUMENT,
          "a typename pattern may have at most " + MAX_PATTERN + " characters, got " + pattern.length());
    }
    this.pattern = pattern;
    int[] cps = pattern.codePoints().toArray();
    int n = 0;
    for (int i = 0; i < cps.length; i++) {
      if (cps[i] != '*' || n == 0 || cps[n - 1] != '*') {
        cps[n++] = cps[i];
      }
    }
    this.p = java.util.Arrays.copyOf(cps, n);
    this.words = (n + 1 + 63) / 64; // states 0..n
    this.any = new long[words];
    this.stars = new long[words];
    for (int j = 0; j < n; j++) {
      if (p[j] == '?') {
        set(any, j);
      } else if (p[j] == '*') {
        set(stars, j);
      }
    }
    for (int j = 0; j < n; j++) {
      if (p[j] != '?' && p[j] != '*') {
        literal.computeIfAbsent(p[j], c -> any.clone());
        set(literal.get(p[j]), j);
      }
    }
    int pre = 0;
    while (pre < n && p[pre] != '*' && p[pre] != '?') {
      pre++;
    }
    int suf = 0;
    while (suf < n - pre && p[n - 1 - suf] != '*' && p[n - 1 - suf] != '?') {
      suf++;
    }
    this.prefix = pre;
    this.suffix = suf;
  }

  private static void set(long[] bits, int j) {
    bits[j >>> 6] |= 1L << (j & 63);
  }

  private static boolean get(long[] bits, int j) {
    return (bits[j >>> 6] & (1L << (j & 63))) != 0;
  }

  public boolean matches(String text) {
    if (!literalEndsMatch(text)) {
      return false;
    }
    int n = p.length;
    long[] s = new long[words];
    long[] next = new long[words];
    s[0] = 1L;
    closeOverStars(s);
    for (int i = 0; i < text.length(); ) {
      int c = text.codePointAt(i);
      i += Character.charCount(c);
      long[] lit = literal.getOrDefault(c, any);
      // next = ((s & lit) << 1) | (s & stars): a position that matches c advances, a star stays.
      long carry = 0;
      long live = 0;
      for (int w = 0; w < words; w++) {
        long adv = s[w] & lit[w];
        next[w] = (adv << 1) | carry | (s[w] & stars[w]);
        carry = adv >>> 63;
        live |= next[w];
      }
      if (live == 0) {
        return false;
      }
      closeOverStars(next);
      long[] t = s;
      s = next;
      next = t;
    }
    return get(s, n);
  }

  /** A star may match nothing: from a star's position, the next one is live too (stars never repeat). */
  private void closeOverStars(long[] s) {
    long carry = 0;
    for (int w = 0; w < words; w++) {
      long st = s[w] & stars[w];
      long add = (st << 1) | carry;
      carry = st >>> 63;
      s[w] |= add;
    }
  }

  /** Compares the literal text before the first wildcard and after the last, before running the automaton. */
  private boolean literalEndsMatch(String text) {
    int i = 0;
    for (int j = 0; j < prefix; j++) {
      if (i >= text.length()) {
        return false;
      }
      int c = text.codePointAt(i);
      if (c != p[j]) {
        return false;
      }
      i += Character.charCount(c);
    }
    if (prefix == p.length) {
      return i == text.length();
    }
    int end = text.length();
    for (int j = 0; j < suffix; j++) {
      if (end <= i) {
        return false;
      }
      int c = text.codePointBefore(end);
      if (c != p[p.length - 1 - j]) {
        return false;
      }
      end -= Character.charCount(c);
    }
    return true;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
