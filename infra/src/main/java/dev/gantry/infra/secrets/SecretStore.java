package dev.gantry.infra.secrets;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.infra.Ids;
import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Deployment env values, encrypted at rest. Callers outside this class hold only the secret's id
 * (the reference that workflows carry); the values are decrypted only where a process needs them.
 */
@Component
public class SecretStore {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final JdbcClient jdbc;
  private final Clock clock;
  private final SecretCipher cipher;

  public SecretStore(JdbcClient jdbc, Clock clock, GantryProperties properties) {
    this.jdbc = jdbc;
    this.clock = clock;
    this.cipher = new SecretCipher(loadKey(properties));
  }

  /**
   * The configured key, or the one generated into the data dir on first start (mode 0600). A key
   * file that exists is never overwritten: that would make every stored secret unreadable.
   */
  static byte[] loadKey(GantryProperties properties) {
    String configured = properties.secrets().key();
    if (configured != null && !configured.isBlank()) {
      return Base64.getDecoder().decode(configured.trim());
    }
    Path file = properties.dataDir().resolve("secrets.key");
    try {
      if (!Files.exists(file)) {
        Files.createDirectories(file.getParent());
        Path tmp =
            Files.createTempFile(
                file.getParent(),
                "secrets",
                ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, Base64.getEncoder().encodeToString(SecretCipher.newKey()));
        try {
          Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
          Files.deleteIfExists(tmp);
        }
      }
      return Base64.getDecoder().decode(Files.readString(file).trim());
    } catch (IOException e) {
      throw new IllegalStateException("cannot read or create the secrets key at " + file, e);
    }
  }

  /** Encrypts and stores env values; returns the reference. */
  public String put(String tenantId, Map<String, String> values) {
    String id = Ids.newId("sec");
    byte[] plain;
    try {
      plain = MAPPER.writeValueAsBytes(new TreeMap<>(values));
    } catch (IOException e) {
      throw new IllegalStateException("cannot serialise env", e);
    }
    String sealed = cipher.encrypt(plain, id);
    Arrays.fill(plain, (byte) 0);
    jdbc.sql(
            "insert into secrets (id, tenant_id, key_id, ciphertext, created_at)"
                + " values (:id, :tenant, :key, :ct, :now)")
        .param("id", id)
        .param("tenant", tenantId)
        .param("key", cipher.keyId())
        .param("ct", sealed)
        .param("now", clock.instant().atOffset(ZoneOffset.UTC))
        .update();
    return id;
  }

  /** The env values behind a reference; empty when the reference is unknown. */
  public Optional<Map<String, String>> resolve(String secretId) {
    return jdbc.sql("select key_id, ciphertext from secrets where id = :id")
        .param("id", secretId)
        .query(
            (rs, n) -> {
              if (!cipher.keyId().equals(rs.getString("key_id"))) {
                throw new IllegalStateException(
                    "secret "
                        + secretId
                        + " was encrypted with another key than the configured one");
              }
              byte[] plain = cipher.decrypt(rs.getString("ciphertext"), secretId);
              try {
                return MAPPER.readValue(
                    new String(plain, StandardCharsets.UTF_8),
                    new TypeReference<Map<String, String>>() {});
              } catch (IOException e) {
                throw new IllegalStateException("stored secret " + secretId + " is malformed");
              } finally {
                Arrays.fill(plain, (byte) 0);
              }
            })
        .optional();
  }
}
