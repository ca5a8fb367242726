package dev.gantry.infra.auth;

import dev.gantry.infra.db.Timestamps;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Tenants and their API keys. */
@Repository
public class ApiKeyRepository {
  private static final RowMapper<ApiKeyRecord> MAPPER =
      (rs, n) ->
          new ApiKeyRecord(
              rs.getString("id"),
              rs.getString("tenant_id"),
              rs.getString("name"),
              rs.getString("prefix"),
              rs.getString("key_hash"),
              rs.getBoolean("admin"),
              Timestamps.read(rs, "created_at"),
              Timestamps.read(rs, "revoked_at"));

  private final JdbcClient jdbc;
  private final Clock clock;

  public ApiKeyRepository(JdbcClient jdbc, Clock clock) {
    this.jdbc = jdbc;
    this.clock = clock;
  }

  private OffsetDateTime now() {
    return Timestamps.utc(clock.instant());
  }

  /** Creates the tenant if it does not exist yet; safe to call concurrently and repeatedly. */
  public void ensureTenant(String tenantId) {
    boolean exists =
        jdbc.sql("select count(*) from tenants where id = :id")
                .param("id", tenantId)
                .query(Integer.class)
                .single()
            > 0;
    if (!exists) {
      try {
        jdbc.sql("insert into tenants (id, created_at) values (:id, :now)")
            .param("id", tenantId)
            .param("now", now())
            .update();
      } catch (org.springframework.dao.DuplicateKeyException raced) {
        // Another caller created it between our check and insert, which is what we wanted.
      }
    }
  }

  public void insert(ApiKeyRecord key) {
    jdbc.sql(
            """
            insert into api_keys (id, tenant_id, name, prefix, key_hash, admin, created_at)
            values (:id, :tenant, :name, :prefix, :hash, :admin, :created)
            """)
        .param("id", key.id())
        .param("tenant", key.tenantId())
        .param("name", key.name())
        .param("prefix", key.prefix())
        .param("hash", key.keyHash())
        .param("admin", key.admin())
        .param("created", Timestamps.utc(key.createdAt()))
        .update();
  }

  public Optional<ApiKeyRecord> findActiveByHash(String keyHash) {
    return jdbc.sql("select * from api_keys where key_hash = :hash and revoked_at is null")
        .param("hash", keyHash)
        .query(MAPPER)
        .optional();
  }

  public Optional<ApiKeyRecord> findByHash(String keyHash) {
    return jdbc.sql("select * from api_keys where key_hash = :hash")
        .param("hash", keyHash)
        .query(MAPPER)
        .optional();
  }

  /** Active keys; all tenants' when {@code tenantId} is null. */
  public List<ApiKeyRecord> listActive(String tenantId) {
    var sql =
        "select * from api_keys where revoked_at is null"
            + (tenantId == null ? "" : " and tenant_id = :tenant")
            + " order by created_at desc, id";
    var spec = jdbc.sql(sql);
    if (tenantId != null) {
      spec = spec.param("tenant", tenantId);
    }
    return spec.query(MAPPER).list();
  }

  /** Every active key of every tenant: the gateway's in-memory key snapshot, in one query. */
  public List<ApiKeyRecord> listAllActive() {
    return jdbc.sql("select * from api_keys where revoked_at is null").query(MAPPER).list();
  }

  public Optional<ApiKeyRecord> findActive(String id) {
    return jdbc.sql("select * from api_keys where id = :id and revoked_at is null")
        .param("id", id)
        .query(MAPPER)
        .optional();
  }

  public boolean revoke(String id) {
    return jdbc.sql("update api_keys set revoked_at = :now where id = :id and revoked_at is null")
            .param("now", now())
            .param("id", id)
            .update()
        == 1;
  }

  public long countActive() {
    return jdbc.sql("select count(*) from api_keys where revoked_at is null")
        .query(Long.class)
        .single();
  }
}
