package dev.gantry.infra.jobs;

import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.infra.db.Timestamps;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
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

  /** Every column but the input of jobs stored before V8: a job is read without its input. */
  private static final String COLUMNS =
      "id, tenant_id, deployment_id, route, input_bytes, status, workflow_started, http_status,"
          + " result, result_type, error_message, idempotency_key, request_hash, created_at,"
          + " finished_at, expires_at";

  /**
   * Compressed input is stored in rows of at most this size: small rows are written once and freed
   * whole, where one large value per job made the embedded database's file grow many times over.
   */
  static final int INPUT_PIECE = 64 * 1024;

  private static final RowMapper<JobRecord> MAPPER =
      (rs, n) ->
          new JobRecord(
              rs.getString("id"),
              rs.getString("tenant_id"),
              rs.getString("deployment_id"),
              rs.getString("route"),
              rs.getLong("input_bytes"),
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
   * Stores a new job and its input ({@code job.inputBytes()} long). The input is written first: a
   * job row never exists without it, and an input left without a job (a crash in between) is
   * removed by {@link #deleteLeftoverInputs}.
   *
   * @throws org.springframework.dao.DuplicateKeyException when the tenant already used its
   *     idempotency key; nothing is left stored
   */
  public void insert(JobRecord job, byte[] input) {
    if (input.length != job.inputBytes()) {
      throw new IllegalArgumentException("input is not inputBytes long");
    }
    storeInput(job.id(), input, job.createdAt());
    try {
      jdbc.sql(
              """
              insert into jobs (id, tenant_id, deployment_id, route, input_bytes, status,
                workflow_started, idempotency_key, request_hash, created_at)
              values (:id, :tenant, :dep, :route, :bytes, :status, false, :key, :hash, :created)
              """)
          .param("id", job.id())
          .param("tenant", job.tenantId())
          .param("dep", job.deploymentId())
          .param("route", job.route())
          .param("bytes", job.inputBytes())
          .param("status", job.status().wireName())
          .param("key", job.idempotencyKey())
          .param("hash", job.requestHash())
          .param("created", Timestamps.utc(job.createdAt()))
          .update();
    } catch (RuntimeException e) {
      deleteInput(job.id());
      throw e;
    }
  }

  private void storeInput(String id, byte[] input, Instant now) {
    var pieces =
        new OutputStream() {
          final byte[] piece = new byte[INPUT_PIECE];
          int filled;
          int seq;

          @Override
          public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) {
            while (len > 0) {
              int n = Math.min(len, piece.length - filled);
              System.arraycopy(b, off, piece, filled, n);
              filled += n;
              off += n;
              len -= n;
              if (filled == piece.length) {
                flushPiece();
              }
            }
          }

          void flushPiece() {
            if (filled == 0) {
              return;
            }
            jdbc.sql(
                    "insert into job_inputs (job_id, seq, data, created_at)"
                        + " values (:id, :seq, :data, :created)")
                .param("id", id)
                .param("seq", seq++)
                .param("data", Arrays.copyOf(piece, filled))
                .param("created", Timestamps.utc(now))
                .update();
            filled = 0;
          }
        };
    try {
      try (var gzip = new GZIPOutputStream(pieces, INPUT_PIECE)) {
        gzip.write(input);
      }
      pieces.flushPiece();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      deleteInput(id);
      throw e;
    }
  }

  /**
   * A job's input, as it was submitted; empty when the job ended (its input is removed then) or
   * does not exist.
   */
  public Optional<byte[]> input(String id) {
    var compressed = new ByteArrayOutputStream();
    jdbc.sql("select data from job_inputs where job_id = :id order by seq")
        .param("id", id)
        .query(
            rs -> {
              compressed.writeBytes(rs.getBytes(1));
            });
    if (compressed.size() > 0) {
      try (var in = new GZIPInputStream(new ByteArrayInputStream(compressed.toByteArray()))) {
        return Optional.of(in.readAllBytes());
      } catch (IOException e) {
        throw new UncheckedIOException("The stored input of job " + id + " is damaged", e);
      }
    }
    // A job stored before its input moved to job_inputs.
    return jdbc.sql("select input from jobs where id = :id and input is not null")
        .param("id", id)
        .query(String.class)
        .optional()
        .map(text -> text.getBytes(StandardCharsets.UTF_8));
  }

  private void deleteInput(String id) {
    jdbc.sql("delete from job_inputs where job_id = :id").param("id", id).update();
  }

  /** Input bytes stored for the unfinished jobs of {@code tenantId}. */
  public long storedInputBytes(String tenantId) {
    return jdbc.sql("select coalesce(sum(input_bytes), 0) from jobs where tenant_id = :tenant")
        .param("tenant", tenantId)
        .query(Long.class)
        .single();
  }

  /** Input bytes stored for all unfinished jobs. */
  public long storedInputBytes() {
    return jdbc.sql("select coalesce(sum(input_bytes), 0) from jobs").query(Long.class).single();
  }

  /**
   * Removes inputs that no unfinished job needs and that were stored before {@code before}: those
   * of jobs whose end was recorded but whose input was not removed then (a database error), and
   * those of submits that failed between storing the input and the job.
   *
   * @return how many pieces were removed
   */
  public int deleteLeftoverInputs(Instant before) {
    return jdbc.sql(
            "delete from job_inputs where created_at < :before and job_id not in"
                + " (select id from jobs where status in "
                + UNFINISHED
                + ")")
        .param("before", Timestamps.utc(before))
        .update();
  }

  public Optional<JobRecord> find(String id) {
    return jdbc.sql("select " + COLUMNS + " from jobs where id = :id")
        .param("id", id)
        .query(MAPPER)
        .optional();
  }

  public Optional<JobRecord> findByIdempotencyKey(String tenantId, String key) {
    return jdbc.sql(
            "select " + COLUMNS + " from jobs where tenant_id = :tenant and idempotency_key = :key")
        .param("tenant", tenantId)
        .param("key", key)
        .query(MAPPER)
        .optional();
  }

  public void markWorkflowStarted(String id) {
    jdbc.sql("update jobs set workflow_started = true where id = :id").param("id", id).update();
  }

  /**
   * Records a job's end, unless it already ended, and removes its input, which nothing needs any
   * more (a retried submit is recognised by the request hash).
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
    boolean recorded =
        jdbc.sql(
                    """
                    update jobs set status = :status, http_status = :http, result = :result,
                      result_type = :type, error_message = :error, finished_at = :now,
                      expires_at = :expires, input = null, input_bytes = 0
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
    if (recorded) {
      // When this fails the sweeper's deleteLeftoverInputs removes it.
      deleteInput(id);
    }
    return recorded;
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
            "select "
                + COLUMNS
                + " from jobs where status in "
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
            "select "
                + COLUMNS
                + " from jobs where "
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
    deleteInput(id);
    jdbc.sql("delete from jobs where id = :id").param("id", id).update();
  }
}
