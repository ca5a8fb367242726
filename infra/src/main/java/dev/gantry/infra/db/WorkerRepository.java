package dev.gantry.infra.db;

import dev.gantry.api.worker.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
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
              Timestamps.read(rs, "stopped_at"),
              Timestamps.read(rs, "decided_at"),
              Timestamps.read(rs, "process_started_at"),
              Timestamps.read(rs, "first_routed_at"));

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

  /**
   * Every worker the deployment ever had that ran on a GPU, whenever it ended: what its cost is
   * made of. Unlike {@link #listVisible}, which shows people the last day, nothing drops out of it,
   * so the accrued cost never goes down. Workers on virtual slots ({@code sim}) cost nothing and
   * are left out.
   */
  public List<WorkerRecord> listBillable(String deploymentId) {
    return jdbc.sql(
            """
            select * from workers where deployment_id = :dep and gpu_type is not null
            order by created_at, id
            """)
        .param("dep", deploymentId)
        .query(MAPPER)
        .list();
  }

  /**
   * Records a worker's transition: inserts the row when it is new, else moves its status. A worker
   * that already ended stays ended, so a retried or late write cannot bring it back.
   */
  public void record(WorkerTransition t) {
    var now = Timestamps.utc(clock.instant());
    boolean ended = t.status() == WorkerStatus.STOPPED || t.status() == WorkerStatus.FAILED;
    int updated =
        jdbc.sql(
                """
                update workers set status = :status,
                  gpu_type = coalesce(:gpuType, gpu_type),
                  gpu_count = :gpuCount,
                  endpoint = coalesce(:endpoint, endpoint),
                  failure_reason = :reason,
                  healthy_at = case when :healthy and healthy_at is null then :now else healthy_at end,
                  stopped_at = case when :ended then :now else stopped_at end,
                  decided_at = coalesce(decided_at, cast(:decidedAt as timestamp with time zone)),
                  process_started_at = coalesce(process_started_at,
                    cast(:processStartedAt as timestamp with time zone))
                where id = :id and stopped_at is null
                """)
            .param("status", t.status().wireName())
            .param("gpuType", t.gpuType())
            .param("gpuCount", t.gpuCount())
            .param("endpoint", t.endpoint())
            .param("reason", t.reason())
            .param("healthy", t.status() == WorkerStatus.HEALTHY)
            .param("ended", ended)
            .param("now", now)
            .param("decidedAt", Timestamps.utc(t.decidedAt()))
            .param("processStartedAt", Timestamps.utc(t.processStartedAt()))
            .param("id", t.workerId())
            .update();
    if (updated == 0 && !exists(t.workerId())) {
      insert(t, now, ended);
    }
    recordInterval(t, now, ended);
  }

  private void insert(WorkerTransition t, java.time.OffsetDateTime now, boolean ended) {
    jdbc.sql(
            """
            insert into workers (id, deployment_id, ordinal, status, gpu_type, gpu_count, endpoint,
              failure_reason, created_at, healthy_at, stopped_at, decided_at, process_started_at)
            values (:id, :dep, :ordinal, :status, :gpuType, :gpuCount, :endpoint, :reason, :now,
              :healthyAt, :stoppedAt, :decidedAt, :processStartedAt)
            """)
        .param("id", t.workerId())
        .param("dep", t.deploymentId())
        .param("ordinal", t.ordinal())
        .param("status", t.status().wireName())
        .param("gpuType", t.gpuType())
        .param("gpuCount", t.gpuCount())
        .param("endpoint", t.endpoint())
        .param("reason", t.reason())
        .param("now", now)
        .param("healthyAt", t.status() == WorkerStatus.HEALTHY ? now : null)
        .param("stoppedAt", ended ? now : null)
        .param("decidedAt", Timestamps.utc(t.decidedAt()))
        .param("processStartedAt", Timestamps.utc(t.processStartedAt()))
        .update();
  }

  /** One worker's row, ended or not. */
  public Optional<WorkerRecord> find(String workerId) {
    return jdbc.sql("select * from workers where id = :id")
        .param("id", workerId)
        .query(MAPPER)
        .optional();
  }

  /**
   * Records when a gateway first handed the worker a request. Only the first such write of any
   * gateway counts; returns the row when this call was it, else empty (already recorded, or no such
   * worker).
   */
  public Optional<WorkerRecord> recordFirstRouted(String workerId, Instant at) {
    int updated =
        jdbc.sql(
                """
                update workers set first_routed_at = :at
                where id = :id and first_routed_at is null
                """)
            .param("at", Timestamps.utc(at))
            .param("id", workerId)
            .update();
    return updated > 0 ? find(workerId) : Optional.empty();
  }

  /**
   * Keeps the worker's billing interval in step with its row: opened (from the row's creation) the
   * first time, given its GPU once placed, and closed once when the worker ends. An interval once
   * closed never changes again.
   */
  private void recordInterval(WorkerTransition t, java.time.OffsetDateTime now, boolean ended) {
    int updated =
        jdbc.sql(
                """
                update worker_intervals set gpu_type = coalesce(:gpuType, gpu_type),
                  gpu_count = :gpuCount,
                  ended_at = case when :ended then :now else ended_at end
                where worker_id = :id and ended_at is null
                """)
            .param("gpuType", t.gpuType())
            .param("gpuCount", t.gpuCount())
            .param("ended", ended)
            .param("now", now)
            .param("id", t.workerId())
            .update();
    if (updated > 0) {
      return;
    }
    jdbc.sql(
            """
            insert into worker_intervals
              (worker_id, deployment_id, gpu_type, gpu_count, started_at, ended_at)
            select id, deployment_id, gpu_type, gpu_count, created_at, stopped_at from workers w
            where w.id = :id
              and not exists (select 1 from worker_intervals i where i.worker_id = :id)
            """)
        .param("id", t.workerId())
        .update();
  }

  /**
   * The billing intervals of the deployments' workers that overlap {@code [from, to)}; open ones
   * run up to now. Ordered by start.
   */
  public List<WorkerInterval> intervals(
      java.util.Collection<String> deploymentIds, java.time.Instant from, java.time.Instant to) {
    if (deploymentIds.isEmpty()) {
      return List.of();
    }
    return jdbc.sql(
            """
            select * from worker_intervals
            where deployment_id in (:deps) and started_at < :to
              and (ended_at is null or ended_at > :from)
            order by started_at, worker_id
            """)
        .param("deps", deploymentIds)
        .param("from", Timestamps.utc(from))
        .param("to", Timestamps.utc(to))
        .query(INTERVAL)
        .list();
  }

  /** Every billing interval of the deployment's workers, whenever it ended. */
  public List<WorkerInterval> intervals(String deploymentId) {
    return jdbc.sql(
            "select * from worker_intervals where deployment_id = :dep order by started_at, worker_id")
        .param("dep", deploymentId)
        .query(INTERVAL)
        .list();
  }

  private static final RowMapper<WorkerInterval> INTERVAL =
      (rs, n) ->
          new WorkerInterval(
              rs.getString("worker_id"),
              rs.getString("deployment_id"),
              rs.getString("gpu_type"),
              rs.getInt("gpu_count"),
              Timestamps.read(rs, "started_at"),
              Timestamps.read(rs, "ended_at"));

  private boolean exists(String workerId) {
    return jdbc.sql("select count(*) from workers where id = :id")
            .param("id", workerId)
            .query(Integer.class)
            .single()
        > 0;
  }

  /** Every worker that has not ended, across deployments, for the orphan sweeper. */
  public List<WorkerRecord> listCurrent() {
    return jdbc.sql("select * from workers where stopped_at is null order by created_at, id")
        .query(MAPPER)
        .list();
  }

  /** Closes a worker whose owner is gone (e.g. the platform restarted); ended ones are kept. */
  public void markStopped(String workerId, String reason) {
    var now = Timestamps.utc(clock.instant());
    jdbc.sql(
            """
            update workers set status = 'stopped', failure_reason = :reason, stopped_at = :now
            where id = :id and stopped_at is null
            """)
        .param("reason", reason)
        .param("now", now)
        .param("id", workerId)
        .update();
    jdbc.sql(
            "update worker_intervals set ended_at = :now where worker_id = :id and ended_at is null")
        .param("now", now)
        .param("id", workerId)
        .update();
  }

  /** The next unused worker ordinal of a deployment. */
  public int nextOrdinal(String deploymentId) {
    Integer max =
        jdbc.sql("select max(ordinal) from workers where deployment_id = :dep")
            .param("dep", deploymentId)
            .query(Integer.class)
            .optional()
            .orElse(null);
    return max == null ? 1 : max + 1;
  }

  /**
   * One transition of a worker, as its workflow reports it. The cold-start instants are kept from
   * the first transition that carries them; null leaves them as they are.
   *
   * @param decidedAt when the deployment decided to start the worker
   * @param processStartedAt when the runtime had started its engine process
   */
  public record WorkerTransition(
      String deploymentId,
      String workerId,
      int ordinal,
      WorkerStatus status,
      String gpuType,
      int gpuCount,
      String endpoint,
      String reason,
      Instant decidedAt,
      Instant processStartedAt) {

    public WorkerTransition(
        String deploymentId,
        String workerId,
        int ordinal,
        WorkerStatus status,
        String gpuType,
        int gpuCount,
        String endpoint,
        String reason) {
      this(
          deploymentId, workerId, ordinal, status, gpuType, gpuCount, endpoint, reason, null, null);
    }
  }
}
