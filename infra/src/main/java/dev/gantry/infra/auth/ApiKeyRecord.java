package dev.gantry.infra.auth;

import java.time.Instant;

/** One row of {@code api_keys}; the key itself is never stored, only its hash. */
public record ApiKeyRecord(
    String id,
    String tenantId,
    String name,
    String prefix,
    String keyHash,
    boolean admin,
    Instant createdAt,
    Instant revokedAt) {}
