package io.vineyard.server.store;

/**
 * A glob over type names: {@code *} matches any run of characters, {@code ?} exactly one, every
 * other character itself. Matching takes time linear in the product of the lengths at worst, with
 * no backtracking blow-up (unlike a regular expression built from the glob), so a pattern of many
 * stars costs no more than one.
 */
public final class Glob {

  private final String pattern;

  public Glob(String pattern) {
    this.pattern = pattern;
  }

  public boolean matches(String text) {
    int p = 0;
    int t = 0;
    int star = -1;
    int resume = 0;
    while (t < text.length()) {
      if (p < pattern.length() && (pattern.charAt(p) == '?' || (pattern.charAt(p) != '*' && pattern.charAt(p) == text.charAt(t)))) {
        p++;
        t++;
      } else if (p < pattern.length() && pattern.charAt(p) == '*') {
        star = p++;
        resume = t;
      } else if (star >= 0) {
        // The last star absorbs one more character; earlier stars never need to be revisited.
        p = star + 1;
        t = ++resume;
      } else {
        return false;
      }
    }
    while (p < pattern.length() && pattern.charAt(p) == '*') {
      p++;
    }
    return p == pattern.length();
  }

  @Override
  public String toString() {
    return pattern;
  }
}
