package dev.gantry.infra.db;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;

/** Deployments, always read through their tenant so one tenant never sees another's. */
@Repository
public class DeploymentRepository {
  private static final RowMapper<DeploymentRecord> MAPPER =
      (rs, n) ->
          new DeploymentRecord(
              rs.getString("id"),
              rs.getString("tenant_id"),
              SpecCodec.read(rs.getString("spec")),
              rs.getString("secret_id"),
              DeploymentStatus.fromWireName(rs.getString("status")),
              rs.getString("status_reason"),
              Timestamps.read(rs, "created_at"),
              Timestamps.read(rs, "updated_at"),
              downloadProgress(rs));

  private static DeploymentRecord.DownloadProgress downloadProgress(java.sql.ResultSet rs)
      throws java.sql.SQLException {
    long done = rs.getLong("download_bytes_done");
    if (rs.wasNull()) {
      return null;
    }
    return new DeploymentRecord.DownloadProgress(done, rs.getLong("download_bytes_total"));
  }

  private final JdbcClient jdbc;
  private final Clock clock;

  public DeploymentRepository(JdbcClient jdbc, Clock clock) {
    this.jdbc = jdbc;
    this.clock = clock;
  }

  public DeploymentRecord insert(String id, String tenantId, DeploymentSpec spec, String secretId) {
    var now = clock.instant();
    jdbc.sql(
            """
            insert into deployments
              (id, tenant_id, name, spec, secret_id, status, created_at, updated_at)
            values (:id, :tenant, :name, :spec, :secret, :status, :now, :now)
            """)
        .param("id", id)
        .param("tenant", tenantId)
        .param("name", spec.name())
        .param("spec", SpecCodec.write(spec))
        .param("secret", secretId)
        .param("status", DeploymentStatus.STARTING.wireName())
        .param("now", Timestamps.utc(now))
        .update();
    return new DeploymentRecord(
        id, tenantId, spec, secretId, DeploymentStatus.STARTING, null, now, now);
  }

  public Optional<DeploymentRecord> find(String tenantId, String id) {
    return jdbc.sql("select * from deployments where id = :id and tenant_id = :tenant")
        .param("id", id)
        .param("tenant", tenantId)
        .query(MAPPER)
        .optional();
  }

  public Optional<DeploymentRecord> findById(String id) {
    return jdbc.sql("select * from deployments where id = :id")
        .param("id", id)
        .query(MAPPER)
        .optional();
  }

  /** The tenant's deployments, newest first, without those deleted over a day ago. */
  public List<DeploymentRecord> list(String tenantId) {
    return jdbc.sql(
            """
            select * from deployments
            where tenant_id = :tenant and (status <> 'deleted' or updated_at > :since)
            order by created_at desc, id desc
            """)
        .param("tenant", tenantId)
        .param("since", Timestamps.utc(clock.instant().minus(java.time.Duration.ofDays(1))))
        .query(MAPPER)
        .list();
  }

  /**
   * The tenant's deployments that existed at some moment of {@code [from, to)}, deleted ones too:
   * what a usage report over that period bills. Oldest first.
   */
  public List<DeploymentRecord> listExistingDuring(
      String tenantId, java.time.Instant from, java.time.Instant to) {
    return jdbc.sql(
            """
            select * from deployments
            where tenant_id = :tenant and created_at < :to
              and (status <> 'deleted' or updated_at >= :from)
            order by created_at, id
            """)
        .param("tenant", tenantId)
        .param("from", Timestamps.utc(from))
        .param("to", Timestamps.utc(to))
        .query(MAPPER)
        .list();
  }

  /**
   * Locks the tenant's row for the rest of the transaction and counts its deployments that are not
   * deleted, so a create that checks a per-tenant limit cannot race another one past it.
   */
  public int lockTenantAndCountActive(String tenantId) {
    jdbc.sql("select id from tenants where id = :tenant for update")
        .param("tenant", tenantId)
        .query(String.class)
        .optional();
    return jdbc.sql(
            "select count(*) from deployments where tenant_id = :tenant and status <> 'deleted'")
        .param("tenant", tenantId)
        .query(Integer.class)
        .single();
  }

  /** Deployments of all tenants that are not deleted: the ones a workflow must own. */
  public List<DeploymentRecord> listNotDeleted() {
    return jdbc.sql("select * from deployments where status <> 'deleted' order by created_at")
        .query(MAPPER)
        .list();
  }

  /** Records a status transition; returns false if the deployment does not exist. */
  public boolean updateStatus(String id, DeploymentStatus status, String reason) {
    return updateStatus(id, status, reason, false);
  }

  /**
   * Records a status transition, and whether a scale-up was just refused for lack of GPUs (its time
   * is kept until the next transition that is not a refusal).
   */
  public boolean updateStatus(
      String id, DeploymentStatus status, String reason, boolean capacityBlocked) {
    return jdbc.sql(
                "update deployments set status = :status, status_reason = :reason,"
                    + " capacity_blocked_at = case when :blocked then :now end,"
                    + " updated_at = :now where id = :id")
            .param("status", status.wireName())
            .param("reason", reason)
            .param("blocked", capacityBlocked)
            .param("now", Timestamps.utc(clock.instant()))
            .param("id", id)
            .update()
        == 1;
  }

  /**
   * Deletes a deployment's encrypted env record once it is {@code deleted}: no engine of it will
   * start again, and a secret kept past its use is one more to leak. Idempotent.
   */
  @Transactional
  public void forgetSecret(String id) {
    var secretIds =
        jdbc.sql("select secret_id from deployments where id = :id and secret_id is not null")
            .param("id", id)
            .query(String.class)
            .list();
    if (secretIds.isEmpty()) {
      return;
    }
    jdbc.sql("update deployments set secret_id = null where id = :id").param("id", id).update();
    jdbc.sql("delete from secrets where id = :id").param("id", secretIds.getFirst()).update();
  }

  /**
   * Records how far the model download has got. Not a state transition: {@code updated_at} stays,
   * and the row keeps the last progress after the download ends.
   */
  public boolean updateDownloadProgress(String id, long bytesDone, long bytesTotal) {
    return jdbc.sql(
                "update deployments set download_bytes_done = :done,"
                    + " download_bytes_total = :total where id = :id")
            .param("done", bytesDone)
            .param("total", bytesTotal)
            .param("id", id)
            .update()
        == 1;
  }

  /**
   * Replaces the status reason while the deployment is still in {@code status}; not a transition,
   * so a reason written late (after the workflow moved on) changes nothing.
   */
  public boolean updateReasonWhile(String id, DeploymentStatus status, String reason) {
    return jdbc.sql(
                "update deployments set status_reason = :reason where id = :id and status = :status")
            .param("reason", reason)
            .param("id", id)
            .param("status", status.wireName())
            .update()
        == 1;
  }

  public boolean updateSpec(String id, DeploymentSpec spec) {
    return jdbc.sql(
                "update deployments set spec = :spec, name = :name, updated_at = :now"
                    + " where id = :id")
            .param("spec", SpecCodec.write(spec))
            .param("name", spec.name())
            .param("now", Timestamps.utc(clock.instant()))
            .param("id", id)
            .update()
        == 1;
  }

  /** Removes a deployment that never got a workflow (its start failed), with its secret. */
  @Transactional
  public void deleteUnstarted(String id) {
    var secretId =
        jdbc.sql("select secret_id from deployments where id = :id")
            .param("id", id)
            .query(String.class)
            .optional();
    jdbc.sql("delete from deployments where id = :id").param("id", id).update();
    secretId.ifPresent(s -> jdbc.sql("delete from secrets where id = :id").param("id", s).update());
  }
}
