package dev.gantry.gateway.jobs;

import dev.gantry.api.job.JobState;
import dev.gantry.gateway.inference.RoutingTable;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRecord;
import dev.gantry.infra.jobs.JobRepository;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Keeps the jobs table and the job workflows in step, off the request path:
 *
 * <ul>
 *   <li>at startup, starts the workflow of every job that has not finished. After a restart of the
 *       embedded Temporal server (which keeps its state in memory) this resumes the jobs that were
 *       queued or running; against a cluster it is a no-op for workflows that still run, and a job
 *       whose workflow ended is never started again;
 *   <li>every {@code gantry.jobs.sweep-interval}, starts jobs that were stored but whose workflow
 *       did not start (a crash or a Temporal outage during the submit), and removes the jobs whose
 *       retention ended, from the database and from Temporal where the server allows it.
 * </ul>
 */
@ConditionalOnGatewayRole
@Component
public class JobSweeper implements SmartLifecycle {
  private static final Logger log = LoggerFactory.getLogger(JobSweeper.class);
  private static final int BATCH = 500;
  private static final int MAX_REMOVED_PER_SWEEP = 50_000;

  /** Beyond a job's own time limit, before the sweeper ends it. */
  private static final Duration STALE_GRACE = Duration.ofMinutes(5);

  /**
   * An input without an unfinished job is removed once it is this old: a submit stores the input
   * before the job, and one that is slow under load must not lose it.
   */
  private static final Duration LEFTOVER_INPUT_GRACE = Duration.ofMinutes(10);

  /** A stored job is left this long for its submit to start it before the sweeper does. */
  private static final Duration START_GRACE = Duration.ofSeconds(10);

  private final JobRepository jobs;
  private final JobService service;
  private final JobEngine engine;
  private final RoutingTable routes;
  private final boolean orchestrator;
  private final Duration interval;
  private final Duration timeout;
  private final Duration retention;
  private final Clock clock;
  private ScheduledExecutorService scheduler;

  public JobSweeper(
      JobRepository jobs,
      JobService service,
      JobEngine engine,
      RoutingTable routes,
      GantryProperties properties,
      Clock clock) {
    this.jobs = jobs;
    this.service = service;
    this.engine = engine;
    this.routes = routes;
    this.orchestrator = properties.hasRole(GantryProperties.ROLE_ORCHESTRATOR);
    this.interval = properties.jobs().sweepInterval();
    this.timeout = properties.jobs().timeout();
    this.retention = properties.jobs().retention();
    this.clock = clock;
  }

  @Override
  public synchronized void start() {
    scheduler =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("gantry-job-sweeper").factory());
    scheduler.scheduleWithFixedDelay(
        this::sweep, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Starts the workflow of every unfinished job. The orchestrator's startup calls it once it has
   * stopped orphaned engines (a resumed job must not be sent to an engine about to be stopped); a
   * gateway without the orchestrator role calls it when it is ready.
   */
  public void resumeUnfinished() {
    try {
      // Route from what the database says now, not from before the orphans were cleaned up.
      routes.refresh();
      int resumed = 0;
      JobRecord last = null;
      List<JobRecord> page;
      do {
        page = jobs.listUnfinished(last, BATCH);
        for (JobRecord job : page) {
          if (service.start(job)) {
            resumed++;
          }
          last = job;
        }
      } while (page.size() == BATCH);
      if (resumed > 0) {
        log.info("Resumed {} async job(s) that had not finished", resumed);
      }
    } catch (RuntimeException e) {
      log.warn("Could not resume unfinished jobs yet: {}", e.toString());
    }
  }

  @EventListener(ApplicationReadyEvent.class)
  void resumeWhenGatewayOnly() {
    if (!orchestrator) {
      scheduler.execute(this::resumeUnfinished);
    }
  }

  void sweep() {
    try {
      var now = clock.instant();
      for (JobRecord job : jobs.listNotStarted(now.minus(START_GRACE), BATCH)) {
        service.start(job);
      }
      // A job past its time that nothing ended (its workflow was terminated by an operator, or
      // lost with an orchestrator's embedded server): end it, so its poll does not wait forever
      // and its retention starts.
      for (JobRecord job : jobs.listStale(now.minus(timeout).minus(STALE_GRACE), BATCH)) {
        if (jobs.finish(job.id(), JobState.timedOut(), now, now.plus(retention))) {
          log.warn("Job {} was past its time without an end; recorded it as timed out", job.id());
          engine.cancel(job.id());
        }
      }
      int removed = 0;
      List<String> expired;
      do {
        expired = jobs.listExpired(now, BATCH);
        for (String id : expired) {
          jobs.delete(id);
          engine.forget(id);
        }
        removed += expired.size();
      } while (expired.size() == BATCH && removed < MAX_REMOVED_PER_SWEEP);
      if (removed > 0) {
        log.debug("Removed {} expired job(s)", removed);
      }
      jobs.deleteLeftoverInputs(now.minus(LEFTOVER_INPUT_GRACE));
    } catch (RuntimeException e) {
      log.warn("Job sweep failed, will retry: {}", e.toString());
    }
  }

  @Override
  public synchronized void stop() {
    if (scheduler != null) {
      scheduler.shutdownNow();
      scheduler = null;
    }
  }

  @Override
  public synchronized boolean isRunning() {
    return scheduler != null;
  }
}
