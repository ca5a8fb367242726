package dev.gantry.infra.db;

import java.time.Instant;
import java.util.Optional;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * The {@code Idempotency-Key}s of deployment creates, per tenant: written with the deployment they
 * create, marked started once its workflow runs, forgotten when that create is undone or the key
 * has expired.
 */
@Repository
public class DeploymentIdempotencyRepository {
  /**
   * One key's record.
   *
   * @param requestHash SHA-256 of the request it was first used with
   * @param deploymentId the deployment that request created
   * @param started whether that deployment's workflow was started (the create finished)
   */
  public record Claim(
      String requestHash,
      String deploymentId,
      boolean started,
      Instant createdAt,
      Instant expiresAt) {}

  private static final RowMapper<Claim> MAPPER =
      (rs, n) ->
          new Claim(
              rs.getString("request_hash"),
              rs.getString("deployment_id"),
              rs.getBoolean("started"),
              Timestamps.read(rs, "created_at"),
              Timestamps.read(rs, "expires_at"));

  private final JdbcClient jdbc;

  public DeploymentIdempotencyRepository(JdbcClient jdbc) {
    this.jdbc = jdbc;
  }

  /**
   * Records a key for the deployment being created; run it in the transaction that inserts the
   * deployment, before that insert.
   *
   * @throws org.springframework.dao.DuplicateKeyException when the tenant holds that key already
   */
  public void claim(
      String tenantId,
      String key,
      String requestHash,
      String deploymentId,
      Instant now,
      Instant expires) {
    jdbc.sql(
            """
            insert into deployment_idempotency
              (tenant_id, idempotency_key, request_hash, deployment_id, started, created_at,
               expires_at)
            values (:tenant, :key, :hash, :dep, false, :now, :expires)
            """)
        .param("tenant", tenantId)
        .param("key", key)
        .param("hash", requestHash)
        .param("dep", deploymentId)
        .param("now", Timestamps.utc(now))
        .param("expires", Timestamps.utc(expires))
        .update();
  }

  public Optional<Claim> find(String tenantId, String key) {
    return jdbc.sql(
            """
            select * from deployment_idempotency
            where tenant_id = :tenant and idempotency_key = :key
            """)
        .param("tenant", tenantId)
        .param("key", key)
        .query(MAPPER)
        .optional();
  }

  /** The deployment created under the key has its workflow: the create is complete. */
  public void markStarted(String tenantId, String key) {
    jdbc.sql(
            """
            update deployment_idempotency set started = true
            where tenant_id = :tenant and idempotency_key = :key
            """)
        .param("tenant", tenantId)
        .param("key", key)
        .update();
  }

  /** Frees the key if it still stands for {@code deploymentId}: that create was undone. */
  public void forget(String tenantId, String key, String deploymentId) {
    jdbc.sql(
            """
            delete from deployment_idempotency
            where tenant_id = :tenant and idempotency_key = :key and deployment_id = :dep
            """)
        .param("tenant", tenantId)
        .param("key", key)
        .param("dep", deploymentId)
        .update();
  }

  /** Removes the keys that expired; how many. */
  public int deleteExpired(Instant now) {
    return jdbc.sql("delete from deployment_idempotency where expires_at <= :now")
        .param("now", Timestamps.utc(now))
        .update();
  }
}
