package dev.gantry.infra.auth;

import dev.gantry.infra.Ids;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.Consumer;
import org.springframework.stereotype.Component;

/**
 * Issues and checks API keys. Keys carry 256 random bits, so a plain SHA-256 is a safe hash: there
 * is nothing to brute-force. The stored hash is looked up by index and then compared again in
 * constant time, so a lookup's timing reveals nothing beyond whether a key exists.
 */
@Component
public class ApiKeys {
  /** Keys look like {@code gk_} followed by 43 base64url characters. */
  private static final SecureRandom RANDOM = new SecureRandom();

  private final ApiKeyRepository repository;
  private final Clock clock;
  private volatile Consumer<ApiKeyRecord> onStored = key -> {};

  public ApiKeys(ApiKeyRepository repository, Clock clock) {
    this.repository = repository;
    this.clock = clock;
  }

  /**
   * Tells {@code listener} of every key this process stores, right after its insert (the gateway's
   * {@link ApiKeyCache}, so a key works here from the moment it is issued).
   */
  public void onStored(Consumer<ApiKeyRecord> listener) {
    this.onStored = listener;
  }

  /** A newly issued key: the only moment its plaintext exists. */
  public record IssuedKey(ApiKeyRecord record, String key) {}

  public static String newKey() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return "gk_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** {@code gk_} and 43 base64url characters; checked on every request, so without a regex. */
  public static boolean wellFormed(String key) {
    if (key == null || key.length() != 46 || !key.startsWith("gk_")) {
      return false;
    }
    for (int i = 3; i < key.length(); i++) {
      char c = key.charAt(i);
      boolean base64url =
          c >= 'A' && c <= 'Z'
              || c >= 'a' && c <= 'z'
              || c >= '0' && c <= '9'
              || c == '_'
              || c == '-';
      if (!base64url) {
        return false;
      }
    }
    return true;
  }

  public static String hash(String key) {
    try {
      var digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(digest.digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  static String displayPrefix(String key) {
    return key.substring(0, 11);
  }

  public IssuedKey issue(String tenantId, String name, boolean admin) {
    return store(newKey(), tenantId, name, admin);
  }

  /** Stores a key the caller chose (the bootstrap key from {@code GANTRY_API_KEY}). */
  public IssuedKey store(String key, String tenantId, String name, boolean admin) {
    repository.ensureTenant(tenantId);
    var record =
        new ApiKeyRecord(
            Ids.newId("key"),
            tenantId,
            name,
            displayPrefix(key),
            hash(key),
            admin,
            clock.instant(),
            null);
    repository.insert(record);
    onStored.accept(record);
    return new IssuedKey(record, key);
  }

  /** The active key record for a presented bearer token, if it is one. */
  public Optional<ApiKeyRecord> authenticate(String presented) {
    if (!wellFormed(presented)) {
      return Optional.empty();
    }
    String presentedHash = hash(presented);
    return repository
        .findActiveByHash(presentedHash)
        .filter(
            k ->
                MessageDigest.isEqual(
                    k.keyHash().getBytes(StandardCharsets.US_ASCII),
                    presentedHash.getBytes(StandardCharsets.US_ASCII)));
  }
}
