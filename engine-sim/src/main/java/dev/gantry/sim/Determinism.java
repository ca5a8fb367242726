package dev.gantry.sim;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The simulator's deterministic "model": text and vectors are pure functions of the input text, so
 * the same prompt always yields the same completion (and a longer {@code max_tokens} extends the
 * shorter one), and the same input always yields the same embedding. Uses FNV-1a and SplitMix64,
 * whose outputs are fixed by their definitions (unlike library PRNGs, which may change).
 */
final class Determinism {

  private Determinism() {}

  private static final List<String> VOCABULARY =
      List.of(
          "the",
          "a",
          "model",
          "gantry",
          "token",
          "engine",
          "river",
          "mountain",
          "quiet",
          "bright",
          "signal",
          "cloud",
          "forest",
          "stone",
          "light",
          "shadow",
          "ocean",
          "garden",
          "paper",
          "window",
          "silver",
          "golden",
          "winter",
          "summer",
          "morning",
          "evening",
          "north",
          "south",
          "journey",
          "harbor",
          "lantern",
          "meadow",
          "thunder",
          "whisper",
          "orbit",
          "planet",
          "crystal",
          "ember",
          "falcon",
          "willow",
          "copper",
          "marble",
          "velvet",
          "canyon",
          "glacier",
          "prairie",
          "compass",
          "anchor",
          "beacon",
          "circuit",
          "vector",
          "tensor",
          "kernel",
          "matrix",
          "gradient",
          "batch",
          "cache",
          "queue",
          "router",
          "worker",
          "cluster",
          "node",
          "swift",
          "gentle",
          "ancient",
          "hidden",
          "simple",
          "curious",
          "steady",
          "distant",
          "warm",
          "runs",
          "builds",
          "carries",
          "follows",
          "answers",
          "listens",
          "returns",
          "becomes",
          "and",
          "of",
          "to",
          "with",
          "under",
          "over",
          "beyond",
          "near",
          "through",
          "before",
          "after",
          "while",
          "because",
          "every",
          "some",
          "many",
          "few",
          "its",
          "their",
          "our");

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;
  private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
  private static final long EMBEDDING_SALT = 0x5eed_e4bedL;

  /** 64-bit FNV-1a hash of the UTF-8 bytes of {@code text}. */
  static long hash(String text) {
    long h = FNV_OFFSET;
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= FNV_PRIME;
    }
    return h;
  }

  /** The SplitMix64 finalizer: a bijective, well-mixing function of {@code z}. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** The {@code index}-th generated word for a prompt whose {@link #hash} is {@code seed}. */
  static String word(long seed, int index) {
    long r = mix(seed + GOLDEN_GAMMA * (index + 1L));
    return VOCABULARY.get((int) Long.remainderUnsigned(r, VOCABULARY.size()));
  }

  /**
   * The text of the {@code index}-th token as sent over the wire: words are separated by one space,
   * so concatenating the tokens gives {@code n} whitespace-separated words.
   */
  static String tokenText(long seed, int index) {
    return index == 0 ? word(seed, 0) : " " + word(seed, index);
  }

  /** The first {@code n} tokens' text, concatenated. */
  static String text(long seed, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(tokenText(seed, i));
    }
    return sb.toString();
  }

  /** A deterministic unit-norm vector of dimension {@code dim} for {@code input}. */
  static float[] embedding(String input, int dim) {
    long seed = mix(hash(input) ^ EMBEDDING_SALT);
    double[] values = new double[dim];
    double sumSquares = 0;
    for (int i = 0; i < dim; i++) {
      long r = mix(seed + GOLDEN_GAMMA * (i + 1L));
      // 53 random bits mapped to [-1, 1).
      double v = (r >>> 11) * 0x1.0p-53 * 2 - 1;
      values[i] = v;
      sumSquares += v * v;
    }
    double norm = Math.sqrt(sumSquares);
    float[] out = new float[dim];
    for (int i = 0; i < dim; i++) {
      out[i] = (float) (norm == 0 ? (i == 0 ? 1 : 0) : values[i] / norm);
    }
    return out;
  }

  /** Number of whitespace-separated words in {@code text}, at least 1 (a prompt is never free). */
  static int countTokens(String text) {
    int count = 0;
    boolean inWord = false;
    for (int i = 0; i < text.length(); i++) {
      boolean ws = Character.isWhitespace(text.charAt(i));
      if (!ws && !inWord) {
        count++;
      }
      inWord = !ws;
    }
    return Math.max(1, count);
  }
}
