package dev.gantry.infra.model;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The hash a downloaded file must have: SHA-256 for LFS files and registry blobs, and the git blob
 * id (SHA-1 over {@code "blob <size>\0"} and the content) for the small files a Hub repo keeps in
 * git itself.
 */
public record ContentDigest(Algorithm algorithm, String hex) {

  public enum Algorithm {
    SHA256,
    GIT_BLOB_SHA1
  }

  public ContentDigest {
    hex = hex.toLowerCase(Locale.ROOT);
    int expected = algorithm == Algorithm.SHA256 ? 64 : 40;
    if (hex.length() != expected || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
      throw new IllegalArgumentException("not a " + algorithm + " digest: " + hex);
    }
  }

  public static ContentDigest sha256(String hex) {
    return new ContentDigest(Algorithm.SHA256, hex);
  }

  public static ContentDigest gitBlob(String hex) {
    return new ContentDigest(Algorithm.GIT_BLOB_SHA1, hex);
  }

  /** A fresh digest, already primed with the git blob header when that is the algorithm. */
  public MessageDigest start(long size) {
    try {
      if (algorithm == Algorithm.SHA256) {
        return MessageDigest.getInstance("SHA-256");
      }
      var md = MessageDigest.getInstance("SHA-1");
      md.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
      return md;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks a standard digest", e);
    }
  }

  /** Resets a digest from {@link #start} to hash the file from its first byte again. */
  public void restart(MessageDigest md, long size) {
    md.reset();
    if (algorithm == Algorithm.GIT_BLOB_SHA1) {
      md.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
    }
  }

  public boolean matches(MessageDigest finished) {
    return hex.equals(HexFormat.of().formatHex(finished.digest()));
  }

  /** How the user sees it in a failure reason. */
  public String label() {
    return (algorithm == Algorithm.SHA256 ? "sha256 " : "git sha1 ") + hex;
  }
}
