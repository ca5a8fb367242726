package dev.gantry.infra.db;

import dev.gantry.api.worker.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Workers of a deployment: current ones, and those that ended in the last day. */
@Repository
public class WorkerRepository {
  private static final RowMapper<WorkerRecord> MAPPER =
      (rs, n) ->
          new WorkerRecord(
              rs.getString("id"),
              rs.getString("deployment_id"),
              WorkerStatus.fromWireName(rs.getString("status")),
              rs.getString("gpu_type"),
              rs.getInt("gpu_count"),
              rs.getString("endpoint"),
              rs.getInt("in_flight"),
              rs.getString("failure_reason"),
              Timestamps.read(rs, "created_at"),
              Timestamps.read(rs, "healthy_at"),
              Timestamps.read(rs, "stopped_at"));

  private final JdbcClient jdbc;
  private final Clock clock;

  public WorkerRepository(JdbcClient jdbc, Clock clock) {
    this.jdbc = jdbc;
    this.clock = clock;
  }

  /** Current workers first (oldest first), then those stopped or failed in the last 24 hours. */
  public List<WorkerRecord> listVisible(String deploymentId) {
    return jdbc.sql(
            """
            select * from workers
            where deployment_id = :dep and (stopped_at is null or stopped_at > :since)
            order by case when stopped_at is null then 0 else 1 end, created_at, id
            """)
        .param("dep", deploymentId)
        .param("since", Timestamps.utc(clock.instant().minus(Duration.ofDays(1))))
        .query(MAPPER)
        .list();
  }
}
