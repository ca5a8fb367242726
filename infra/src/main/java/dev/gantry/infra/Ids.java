package dev.gantry.infra;

import java.security.SecureRandom;

/** Random identifiers with a type prefix, e.g. {@code dep_k3v9...}. */
public final class Ids {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] ALPHABET = "0123456789abcdefghijkmnpqrstuvwxyz".toCharArray();

  private Ids() {}

  public static String newId(String prefix) {
    return prefix + "_" + randomString(20);
  }

  static String randomString(int length) {
    char[] out = new char[length];
    for (int i = 0; i < length; i++) {
      out[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    }
    return new String(out);
  }
}
