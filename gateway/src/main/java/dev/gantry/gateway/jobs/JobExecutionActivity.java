package dev.gantry.gateway.jobs;

import dev.gantry.api.job.JobExecution;
import dev.gantry.api.job.JobProgress;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.gateway.inference.InferenceException;
import dev.gantry.gateway.inference.InferenceProxy;
import dev.gantry.gateway.inference.InferenceProxy.BufferedAnswer;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRecord;
import dev.gantry.infra.jobs.JobRepository;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;

/**
 * Runs a job's request on this gateway: through the deployment's admission queue (so a job never
 * skips the line or over-fills a worker), then the worker call, then the answer into the database.
 * The activity thread (a virtual thread) waits for the call, heartbeating; the reactive call itself
 * runs on the event loop like any other request.
 *
 * <p>While the job waits for a worker and its time allows, a wait that runs out (408, 504), a full
 * queue (429), a refused scale-up (503) or a worker that could not be reached (the request was not
 * sent, e.g. a worker that died with the platform) puts it back in line rather than failing it: a
 * job is asynchronous, its time limit is {@code gantry.jobs.timeout}. When the time is up it fails
 * with the status the last attempt got, as a synchronous request would have.
 */
@ConditionalOnGatewayRole
@Component("jobExecution")
public class JobExecutionActivity implements JobExecution {
  private static final Logger log = LoggerFactory.getLogger(JobExecutionActivity.class);
  private static final Set<HttpStatus> WAITED_OUT =
      Set.of(
          HttpStatus.REQUEST_TIMEOUT,
          HttpStatus.GATEWAY_TIMEOUT,
          HttpStatus.TOO_MANY_REQUESTS,
          HttpStatus.SERVICE_UNAVAILABLE);
  private static final Duration REQUEUE_PAUSE = Duration.ofSeconds(1);

  private final InferenceProxy proxy;
  private final JobRepository jobs;
  private final JobEngine engine;
  private final GantryProperties.Jobs settings;
  private final Clock clock;
  private final Map<String, Running> running = new ConcurrentHashMap<>();

  public JobExecutionActivity(
      InferenceProxy proxy,
      JobRepository jobs,
      JobEngine engine,
      GantryProperties properties,
      Clock clock) {
    this.proxy = proxy;
    this.jobs = jobs;
    this.engine = engine;
    this.settings = properties.jobs();
    this.clock = clock;
  }

  /** A job's call in progress on this gateway; {@link #abort} may run on any thread. */
  private static final class Running {
    final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    final AtomicReference<Disposable> call = new AtomicReference<>();
    volatile boolean aborted;

    /** Starts a call unless the job was aborted; an abort racing this disposes it. */
    void begin(Supplier<Disposable> start) {
      if (aborted) {
        return;
      }
      Disposable previous = call.getAndSet(start.get());
      if (previous != null) {
        previous.dispose();
      }
      if (aborted) {
        dispose();
      }
    }

    void dispose() {
      Disposable current = call.get();
      if (current != null) {
        current.dispose();
      }
    }
  }

  /** Marks the end of a call that was aborted because its job was cancelled. */
  private enum Aborted {
    INSTANCE
  }

  @Override
  public JobState execute(ExecuteJob input) {
    var context = Activity.getExecutionContext();
    JobRecord job = jobs.find(input.jobId()).orElse(null);
    if (job == null) {
      // Removed meanwhile (retention): nothing to run.
      return new JobState(JobStatus.FAILED, 404, null);
    }
    if (job.status().finished()) {
      // Already ended (a retry after the answer was stored, or a cancel): never run it again.
      return stateOf(job);
    }
    long deadline = job.createdAt().plus(settings.timeout()).toEpochMilli();
    // The input is read into memory only when the body budget has room for it, so jobs waiting
    // for a worker cannot fill the heap: past the budget, the job waits in line as after a 429.
    Runnable releaseBody;
    try {
      while ((releaseBody = proxy.reserveBody(job.tenantId(), job.deploymentId(), job.inputBytes()))
          == null) {
        if (clock.millis() + REQUEUE_PAUSE.toMillis() >= deadline) {
          return store(job, InferenceException.queueFull(), deadline);
        }
        context.heartbeat(JobStatus.QUEUED);
        Thread.sleep(REQUEUE_PAUSE);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Activity.wrap(e);
    }
    try {
      return executeHoldingBody(job, context, deadline);
    } finally {
      releaseBody.run();
    }
  }

  private JobState executeHoldingBody(
      JobRecord job, ActivityExecutionContext context, long deadline) {
    byte[] body = jobs.input(job.id()).orElse(null);
    if (body == null) {
      // The input is removed when the job's end is recorded: it ended meanwhile.
      return jobs.find(job.id())
          .filter(j -> j.status().finished())
          .map(JobExecutionActivity::stateOf)
          .orElse(new JobState(JobStatus.FAILED, 404, null));
    }
    var run = new Running();
    running.put(job.id(), run);
    // How far this attempt got: a request that was sent is never sent again by this attempt.
    JobStatus reached = JobStatus.QUEUED;
    JobStatus told = JobStatus.QUEUED;
    try {
      run.begin(() -> call(job, body, run.events, deadline));
      while (true) {
        Object event = run.events.poll(1, TimeUnit.SECONDS);
        if (event == null) {
          // Throws when the job was cancelled or the workflow is gone: the call is aborted below.
          context.heartbeat(reached);
          continue;
        }
        if (event instanceof JobStatus progress) {
          if (progress.ordinal() > reached.ordinal()) {
            reached = progress;
          }
          if (reached.ordinal() > told.ordinal()) {
            told = reached;
            tell(job.id(), reached);
          }
          continue;
        }
        if (event == Aborted.INSTANCE) {
          return jobs.find(job.id()).map(JobExecutionActivity::stateOf).orElse(cancelled());
        }
        if (event instanceof InferenceException e
            && (e.unsent() || (reached == JobStatus.QUEUED && WAITED_OUT.contains(e.status())))
            && clock.millis() + REQUEUE_PAUSE.toMillis() < deadline) {
          log.debug("Job {} waits again for a worker after {}", job.id(), e.status());
          context.heartbeat(JobStatus.QUEUED);
          Thread.sleep(REQUEUE_PAUSE);
          reached = JobStatus.QUEUED;
          run.begin(() -> call(job, body, run.events, deadline));
          continue;
        }
        if (!(event instanceof BufferedAnswer) && !(event instanceof InferenceException)) {
          // Not an answer of the worker (this gateway is stopping, or a bug): nothing was stored,
          // and the request was not sent, so another attempt may run it.
          throw Activity.wrap((Throwable) event);
        }
        return store(job, event, deadline);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Activity.wrap(e);
    } finally {
      // Cancelled, timed out, failed or done: no call of this attempt outlives it.
      run.dispose();
      running.remove(job.id(), run);
    }
  }

  /** Progress for the workflow's status query; best effort, the job goes on without it. */
  private void tell(String jobId, JobStatus status) {
    try {
      engine.progress(jobId, new JobProgress(status));
    } catch (RuntimeException e) {
      log.debug("Could not tell job {} its progress ({}): {}", jobId, status, e.toString());
    }
  }

  private Disposable call(JobRecord job, byte[] body, BlockingQueue<Object> events, long deadline) {
    return proxy
        .callBuffered(
            job.tenantId(),
            job.deploymentId(),
            job.route(),
            body,
            job.id(),
            () -> events.add(JobStatus.FETCHED),
            () -> events.add(JobStatus.PROCESSING),
            settings.maxResultBytes(),
            Duration.ofMillis(Math.max(1000, deadline - clock.millis())))
        .subscribe(events::add, events::add);
  }

  /** Aborts a cancelled job's call at once when it runs on this gateway. */
  boolean abort(String jobId) {
    Running run = running.get(jobId);
    if (run == null) {
      return false;
    }
    run.aborted = true;
    run.dispose();
    run.events.add(Aborted.INSTANCE);
    return true;
  }

  /**
   * Stores the answer (or the failure) once and returns the end state. The database is retried
   * until the job's time is up: the engine has answered, so running the request again (what a
   * failed activity would lead to) must not happen.
   */
  private JobState store(JobRecord job, Object outcome, long deadline) throws InterruptedException {
    JobStatus status;
    int httpStatus;
    String result = null;
    String type = null;
    String error = null;
    if (outcome instanceof BufferedAnswer answer && answer.status() < 300) {
      status = JobStatus.COMPLETED;
      httpStatus = answer.status();
      result = new String(answer.body(), StandardCharsets.UTF_8);
      type = answer.contentType();
    } else if (outcome instanceof BufferedAnswer answer && answer.status() < 400) {
      // A redirect is not an answer a poll can give: the worker misbehaved.
      status = JobStatus.FAILED;
      httpStatus = HttpStatus.BAD_GATEWAY.value();
      error = InferenceException.badGateway().getMessage();
    } else if (outcome instanceof BufferedAnswer answer) {
      // The framework's own 4xx, as a synchronous call would have relayed it.
      status = JobStatus.FAILED;
      httpStatus = answer.status();
      error = WorkerErrors.message(answer.body(), answer.status());
    } else {
      var e = (InferenceException) outcome;
      status = JobStatus.FAILED;
      httpStatus = e.status().value();
      error = e.getMessage();
    }
    for (int attempt = 1; ; attempt++) {
      try {
        var now = clock.instant();
        if (!jobs.finish(
            job.id(),
            status,
            httpStatus,
            result,
            type,
            error,
            now,
            now.plus(settings.retention()))) {
          // Cancelled while the answer came: the first recorded end stands.
          return jobs.find(job.id()).map(JobExecutionActivity::stateOf).orElse(cancelled());
        }
        // The message stays in the database: it may quote the user's input.
        return new JobState(status, httpStatus, null);
      } catch (DataAccessException e) {
        if (clock.millis() > deadline) {
          throw e;
        }
        log.warn(
            "Could not store the answer of job {} (attempt {}), retrying: {}",
            job.id(),
            attempt,
            e.toString());
        Activity.getExecutionContext().heartbeat(JobStatus.PROCESSING);
        Thread.sleep(Duration.ofSeconds(Math.min(attempt, 10)));
      }
    }
  }

  private static JobState cancelled() {
    return new JobState(JobStatus.CANCELLED, JobState.cancelled().httpStatus(), null);
  }

  /** A stored job's end, without its message (which stays in the database). */
  static JobState stateOf(JobRecord job) {
    return new JobState(job.status(), job.httpStatus() == null ? 0 : job.httpStatus(), null);
  }
}
