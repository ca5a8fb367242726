package dev.gantry.gateway.deployment;

import dev.gantry.api.job.JobStatus;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Platform-wide gauges read from the database: current workers by state and async jobs by state.
 * One query per table at most every {@link #MAX_AGE}, however often the meters are scraped.
 */
@ConditionalOnGatewayRole
@Component
public class FleetMeters implements MeterBinder {
  private static final Logger log = LoggerFactory.getLogger(FleetMeters.class);
  static final Duration MAX_AGE = Duration.ofSeconds(5);

  private final JdbcClient jdbc;
  private final Clock clock;
  private final Counts workers;
  private final Counts jobs;

  public FleetMeters(JdbcClient jdbc, Clock clock) {
    this.jdbc = jdbc;
    this.clock = clock;
    this.workers =
        new Counts(
            "select status, count(*) as n from workers where stopped_at is null group by status");
    this.jobs = new Counts("select status, count(*) as n from jobs group by status");
  }

  /** Counts by status from one query, read again when older than {@link #MAX_AGE}. */
  private final class Counts {
    private final String sql;
    private Map<String, Long> counts = Map.of();
    private long readAtMillis = Long.MIN_VALUE;

    Counts(String sql) {
      this.sql = sql;
    }

    synchronized double of(String status) {
      long now = clock.millis();
      if (readAtMillis == Long.MIN_VALUE || now - readAtMillis >= MAX_AGE.toMillis()) {
        try {
          var fresh = new HashMap<String, Long>();
          jdbc.sql(sql)
              .query(
                  (org.springframework.jdbc.core.RowCallbackHandler)
                      rs -> fresh.put(rs.getString("status"), rs.getLong("n")));
          counts = fresh;
        } catch (RuntimeException e) {
          log.debug("cannot count for metrics: {}", e.toString());
        }
        readAtMillis = now;
      }
      return counts.getOrDefault(status, 0L);
    }
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    for (WorkerStatus status : WorkerStatus.values()) {
      if (!status.current()) {
        continue;
      }
      Gauge.builder("gantry.workers", workers, c -> c.of(status.wireName()))
          .tag("state", status.wireName())
          .description("Current workers of all deployments, by state")
          .register(registry);
    }
    for (JobStatus status : JobStatus.values()) {
      Gauge.builder("gantry.jobs", jobs, c -> c.of(status.wireName()))
          .tag("state", status.wireName())
          .description("Async jobs kept in the database, by state")
          .register(registry);
    }
  }
}
