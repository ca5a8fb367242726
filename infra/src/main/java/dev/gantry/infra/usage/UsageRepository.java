package dev.gantry.infra.usage;

import dev.gantry.infra.db.Timestamps;
import java.sql.Types;
import java.time.Instant;
import java.util.List;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.support.JdbcTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/** The {@code usage_records} table: written in batches, read by billing. */
public class UsageRepository {
  private static final String INSERT =
      """
      insert into usage_records (request_id, deployment_id, tenant_id, worker_id, route, status,
        prompt_tokens, completion_tokens, streamed, started_at, duration_ms, ttft_ms)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """;

  private static final RowMapper<UsageRecord> MAPPER =
      (rs, n) ->
          new UsageRecord(
              rs.getString("request_id"),
              rs.getString("deployment_id"),
              rs.getString("tenant_id"),
              rs.getString("worker_id"),
              rs.getString("route"),
              rs.getInt("status"),
              rs.getInt("prompt_tokens"),
              rs.getInt("completion_tokens"),
              rs.getBoolean("streamed"),
              Timestamps.read(rs, "started_at"),
              rs.getLong("duration_ms"),
              rs.getObject("ttft_ms") == null ? null : rs.getLong("ttft_ms"));

  /** A tenant's usage over a period. */
  public record TokenTotals(long requests, long promptTokens, long completionTokens) {}

  private final JdbcTemplate jdbcTemplate;
  private final JdbcClient jdbc;
  private final TransactionTemplate tx;

  public UsageRepository(JdbcTemplate jdbcTemplate) {
    this.jdbcTemplate = jdbcTemplate;
    this.jdbc = JdbcClient.create(jdbcTemplate);
    // Its own transaction manager, so a batch is atomic on every driver (H2 commits each statement
    // of a batch in autocommit mode) whether or not the application defines one.
    this.tx = new TransactionTemplate(new JdbcTransactionManager(jdbcTemplate.getDataSource()));
  }

  /**
   * Inserts all records in one JDBC batch and one transaction: on an error none is written, so the
   * caller can retry the same list without duplicating rows.
   */
  public void insertBatch(List<UsageRecord> records) {
    if (records.isEmpty()) {
      return;
    }
    tx.executeWithoutResult(s -> insertInTransaction(records));
  }

  private void insertInTransaction(List<UsageRecord> records) {
    jdbcTemplate.batchUpdate(
        INSERT,
        records,
        records.size(),
        (ps, r) -> {
          ps.setString(1, r.requestId());
          ps.setString(2, r.deploymentId());
          ps.setString(3, r.tenantId());
          if (r.workerId() == null) {
            ps.setNull(4, Types.VARCHAR);
          } else {
            ps.setString(4, r.workerId());
          }
          ps.setString(5, r.route());
          ps.setInt(6, r.status());
          ps.setInt(7, r.promptTokens());
          ps.setInt(8, r.completionTokens());
          ps.setBoolean(9, r.streamed());
          ps.setObject(10, Timestamps.utc(r.startedAt()));
          ps.setLong(11, r.durationMs());
          if (r.ttftMs() == null) {
            ps.setNull(12, Types.BIGINT);
          } else {
            ps.setLong(12, r.ttftMs());
          }
        });
  }

  /** A deployment's records in the order the requests started. */
  public List<UsageRecord> listForDeployment(String deploymentId) {
    return jdbc.sql(
            "select * from usage_records where deployment_id = :dep order by started_at, id")
        .param("dep", deploymentId)
        .query(MAPPER)
        .list();
  }

  /** Requests and tokens of a tenant that started in {@code [from, to)}. */
  public TokenTotals sumTokens(String tenantId, Instant from, Instant to) {
    return jdbc.sql(
            """
            select count(*) as requests,
                   coalesce(sum(prompt_tokens), 0) as prompt_tokens,
                   coalesce(sum(completion_tokens), 0) as completion_tokens
            from usage_records
            where tenant_id = :tenant and started_at >= :from and started_at < :to
            """)
        .param("tenant", tenantId)
        .param("from", Timestamps.utc(from))
        .param("to", Timestamps.utc(to))
        .query(
            (rs, n) ->
                new TokenTotals(
                    rs.getLong("requests"),
                    rs.getLong("prompt_tokens"),
                    rs.getLong("completion_tokens")))
        .single();
  }

  /** What a usage report reads of one request. */
  public record Row(
      String workerId,
      int status,
      int promptTokens,
      int completionTokens,
      Instant startedAt,
      long durationMs,
      Long ttftMs) {

    /**
     * The request's share weight of its worker's busy time: how long it held the worker, times the
     * tokens it moved (at least one, so a request without counts still takes part).
     */
    public double weight() {
      return (double) Math.max(1, durationMs) * Math.max(1, promptTokens + completionTokens);
    }
  }

  /**
   * Streams the deployments' requests that started in {@code [from, to)} to {@code sink}, oldest
   * first, through the {@code (deployment_id, started_at)} index; rows are not collected in memory.
   */
  public void forEachRow(
      java.util.Collection<String> deploymentIds,
      Instant from,
      Instant to,
      java.util.function.Consumer<Row> sink) {
    if (deploymentIds.isEmpty()) {
      return;
    }
    jdbc.sql(
            """
            select worker_id, status, prompt_tokens, completion_tokens, started_at, duration_ms,
              ttft_ms
            from usage_records
            where deployment_id in (:deps) and started_at >= :from and started_at < :to
            """)
        .param("deps", deploymentIds)
        .param("from", Timestamps.utc(from))
        .param("to", Timestamps.utc(to))
        .query(
            (org.springframework.jdbc.core.RowCallbackHandler)
                rs ->
                    sink.accept(
                        new Row(
                            rs.getString("worker_id"),
                            rs.getInt("status"),
                            rs.getInt("prompt_tokens"),
                            rs.getInt("completion_tokens"),
                            Timestamps.read(rs, "started_at"),
                            rs.getLong("duration_ms"),
                            rs.getObject("ttft_ms") == null ? null : rs.getLong("ttft_ms"))));
  }

  public long count() {
    return jdbc.sql("select count(*) from usage_records").query(Long.class).single();
  }
}
