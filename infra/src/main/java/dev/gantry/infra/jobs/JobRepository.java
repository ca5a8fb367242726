package dev.gantry.infra.jobs;

import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.infra.db.Timestamps;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * The {@code jobs} table. A job's end is written once: every write that finishes a job applies only
 * to a job that has not finished, so a late or retried write (or a cancel racing a completion)
 * never replaces the outcome that was recorded first.
 */
@Repository
public class JobRepository {
  private static final String UNFINISHED = "('queued', 'fetched', 'processing')";

  private static final RowMapper<JobRecord> MAPPER =
      (rs, n) ->
          new JobRecord(
              rs.getString("id"),
              rs.getString("tenant_id"),
              rs.getString("deployment_id"),
              rs.getString("route"),
              rs.getString("input"),
              JobStatus.fromWireName(rs.getString("status")),
              rs.getBoolean("workflow_started"),
              (Integer) rs.getObject("http_status"),
              rs.getString("result"),
              rs.getString("result_type"),
              rs.getString("error_message"),
              rs.getString("idempotency_key"),
              rs.getString("request_hash"),
              Timestamps.read(rs, "created_at"),
              Timestamps.read(rs, "finished_at"),
              Timestamps.read(rs, "expires_at"));

  private final JdbcClient jdbc;

  public JobRepository(JdbcClient jdbc) {
    this.jdbc = jdbc;
  }

  /**
   * Stores a new job.
   *
   * @throws org.springframework.dao.DuplicateKeyException when the tenant already used its
   *     idempotency key
   */
  public void insert(JobRecord job) {
    jdbc.sql(
            """
            insert into jobs (id, tenant_id, deployment_id, route, input, status, workflow_started,
              idempotency_key, request_hash, created_at)
            values (:id, :tenant, :dep, :route, :input, :status, false, :key, :hash, :created)
            """)
        .param("id", job.id())
        .param("tenant", job.tenantId())
        .param("dep", job.deploymentId())
        .param("route", job.route())
        .param("input", job.input())
        .param("status", job.status().wireName())
        .param("key", job.idempotencyKey())
        .param("hash", job.requestHash())
        .param("created", Timestamps.utc(job.createdAt()))
        .update();
  }

  public Optional<JobRecord> find(String id) {
    return jdbc.sql("select * from jobs where id = :id").param("id", id).query(MAPPER).optional();
  }

  public Optional<JobRecord> findByIdempotencyKey(String tenantId, String key) {
    return jdbc.sql("select * from jobs where tenant_id = :tenant and idempotency_key = :key")
        .param("tenant", tenantId)
        .param("key", key)
        .query(MAPPER)
        .optional();
  }

  public void markWorkflowStarted(String id) {
    jdbc.sql("update jobs set workflow_started = true where id = :id").param("id", id).update();
  }

  /**
   * Records a job's end, unless it already ended.
   *
   * @return whether this call recorded it
   */
  public boolean finish(
      String id,
      JobStatus status,
      int httpStatus,
      String result,
      String resultType,
      String errorMessage,
      Instant now,
      Instant expiresAt) {
    if (!status.finished()) {
      throw new IllegalArgumentException(status + " is not an end state");
    }
    return jdbc.sql(
                """
                update jobs set status = :status, http_status = :http, result = :result,
                  result_type = :type, error_message = :error, finished_at = :now,
                  expires_at = :expires
                where id = :id and status in\s"""
                    + UNFINISHED)
            .param("status", status.wireName())
            .param("http", httpStatus)
            .param("result", result)
            .param("type", resultType)
            .param("error", errorMessage)
            .param("now", Timestamps.utc(now))
            .param("expires", Timestamps.utc(expiresAt))
            .param("id", id)
            .update()
        == 1;
  }

  /** Records an end that has no answer (a failure or a cancel), unless the job already ended. */
  public boolean finish(String id, JobState end, Instant now, Instant expiresAt) {
    return finish(id, end.status(), end.httpStatus(), null, null, end.error(), now, expiresAt);
  }

  /**
   * Jobs that have not finished, oldest first, after the given one (null: from the start): those to
   * resume after a restart, a page at a time.
   */
  public List<JobRecord> listUnfinished(JobRecord after, int limit) {
    return jdbc.sql(
            "select * from jobs where status in "
                + UNFINISHED
                + " and (created_at > :created or (created_at = :created and id > :id))"
                + " order by created_at, id fetch first :limit rows only")
        .param("created", Timestamps.utc(after == null ? Instant.EPOCH : after.createdAt()))
        .param("id", after == null ? "" : after.id())
        .param("limit", limit)
        .query(MAPPER)
        .list();
  }

  /** Accepted jobs whose workflow was never started, accepted before {@code before}. */
  public List<JobRecord> listNotStarted(Instant before, int limit) {
    return unfinishedBefore("workflow_started = false and ", before, limit);
  }

  /** Unfinished jobs accepted before {@code before}: past their time, whatever happened. */
  public List<JobRecord> listStale(Instant before, int limit) {
    return unfinishedBefore("", before, limit);
  }

  private List<JobRecord> unfinishedBefore(String condition, Instant before, int limit) {
    return jdbc.sql(
            "select * from jobs where "
                + condition
                + "created_at < :before and status in "
                + UNFINISHED
                + " order by created_at, id fetch first :limit rows only")
        .param("before", Timestamps.utc(before))
        .param("limit", limit)
        .query(MAPPER)
        .list();
  }

  /** Ids of finished jobs whose retention ended. */
  public List<String> listExpired(Instant now, int limit) {
    return jdbc.sql(
            "select id from jobs where expires_at < :now order by expires_at fetch first :limit"
                + " rows only")
        .param("now", Timestamps.utc(now))
        .param("limit", limit)
        .query(String.class)
        .list();
  }

  public void delete(String id) {
    jdbc.sql("delete from jobs where id = :id").param("id", id).update();
  }
}
