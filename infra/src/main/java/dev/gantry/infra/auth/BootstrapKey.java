package dev.gantry.infra.auth;

import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Makes sure an admin can reach the platform on first start (docs/api.md "Bootstrap"): {@code
 * GANTRY_API_KEY} becomes an admin key of tenant {@code default}; without it, and with no key at
 * all, one admin key is generated, printed once and written to {@code <data dir>/admin-api-key}.
 */
@Component
public class BootstrapKey {
  public static final String DEFAULT_TENANT = "default";
  private static final Logger log = LoggerFactory.getLogger(BootstrapKey.class);

  private final ApiKeys apiKeys;
  private final ApiKeyRepository repository;
  private final GantryProperties properties;
  private final TransactionTemplate tx;
  private final String configuredKey;

  public BootstrapKey(
      ApiKeys apiKeys,
      ApiKeyRepository repository,
      GantryProperties properties,
      TransactionTemplate tx,
      @Value("${GANTRY_API_KEY:}") String configuredKey) {
    this.apiKeys = apiKeys;
    this.repository = repository;
    this.properties = properties;
    this.tx = tx;
    this.configuredKey = configuredKey;
  }

  public void ensure() {
    if (!configuredKey.isBlank()) {
      if (!ApiKeys.wellFormed(configuredKey)) {
        throw new IllegalStateException(
            "GANTRY_API_KEY must look like gk_ followed by 43 base64url characters"
                + " (generate one with: echo gk_$(head -c32 /dev/urandom | base64 | tr '+/' '-_'"
                + " | tr -d '=')");
      }
      tx.executeWithoutResult(
          s -> {
            if (repository.findByHash(ApiKeys.hash(configuredKey)).isEmpty()) {
              apiKeys.store(configuredKey, DEFAULT_TENANT, "bootstrap", true);
              log.info("Registered GANTRY_API_KEY as an admin key of tenant '{}'", DEFAULT_TENANT);
            }
          });
      return;
    }
    var issued =
        tx.execute(
            s ->
                repository.countActive() == 0
                    ? apiKeys.issue(DEFAULT_TENANT, "bootstrap", true)
                    : null);
    if (issued != null) {
      Path file = properties.dataDir().resolve("admin-api-key");
      writePrivate(file, issued.key() + "\n");
      // docs/api.md asks for the generated key to be printed exactly once, so the first user can
      // start.
      log.info("Generated an admin API key (shown once, also saved to {}): {}", file, issued.key());
    }
  }

  static void writePrivate(Path file, String content) {
    try {
      Files.createDirectories(file.getParent());
      Files.deleteIfExists(file);
      Files.createFile(
          file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(file, content, StandardOpenOption.TRUNCATE_EXISTING);
    } catch (IOException e) {
      throw new IllegalStateException("cannot write " + file, e);
    }
  }
}
