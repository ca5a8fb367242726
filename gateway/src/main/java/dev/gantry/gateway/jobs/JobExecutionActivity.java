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
import io.temporal.client.ActivityCompletionException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
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
  private static final int STORE_ATTEMPTS = 6;

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

  /** A job's call in progress on this gateway. */
  private record Running(BlockingQueue<Object> events, Disposable[] call) {}

  /** Marks the end of a call that was aborted because its job was cancelled. */
  private enum Aborted {
    INSTANCE
  }

  @Override
  public JobState execute(ExecuteJob input) {
    var context = Activity.getExecutionContext();
    JobRecord job = jobs.find(input.jobId()).orElse(null);
    if (job == null) {
      // Removed meanwhile (retention, or its deployment's data): nothing to run.
      return new JobState(JobStatus.FAILED, 404, InferenceException.notFound().getMessage());
    }
    if (job.status().finished()) {
      // Already ended (a retry after the answer was stored, or a cancel): never run it again.
      return stateOf(job);
    }
    long deadline = job.createdAt().plus(settings.timeout()).toEpochMilli();
    byte[] body = job.input().getBytes(StandardCharsets.UTF_8);
    var events = new LinkedBlockingQueue<>();
    var run = new Running(events, new Disposable[1]);
    running.put(job.id(), run);
    JobStatus reached = JobStatus.QUEUED;
    try {
      run.call[0] = call(job, body, events);
      while (true) {
        Object event = events.poll(1, TimeUnit.SECONDS);
        if (event == null) {
          // Throws when the job was cancelled or the workflow is gone: the call is aborted below.
          context.heartbeat(reached);
          continue;
        }
        if (event instanceof JobStatus progress) {
          if (progress.ordinal() > reached.ordinal()) {
            reached = progress;
            engine.progress(job.id(), new JobProgress(progress));
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
          context.heartbeat(reached);
          Thread.sleep(REQUEUE_PAUSE);
          run.call[0] = call(job, body, events);
          continue;
        }
        return store(job, event);
      }
    } catch (ActivityCompletionException e) {
      // Cancelled, or timed out: abort the engine call, and let the workflow record the end.
      dispose(run);
      throw e;
    } catch (InterruptedException e) {
      dispose(run);
      Thread.currentThread().interrupt();
      throw Activity.wrap(e);
    } catch (RuntimeException e) {
      dispose(run);
      throw e;
    } finally {
      running.remove(job.id());
    }
  }

  private Disposable call(JobRecord job, byte[] body, BlockingQueue<Object> events) {
    return proxy
        .callBuffered(
            job.tenantId(),
            job.deploymentId(),
            job.route(),
            body,
            job.id(),
            () -> events.add(JobStatus.FETCHED),
            () -> events.add(JobStatus.PROCESSING),
            settings.maxResultBytes())
        .subscribe(events::add, events::add);
  }

  /** Aborts a cancelled job's call at once when it runs on this gateway. */
  boolean abort(String jobId) {
    Running run = running.get(jobId);
    if (run == null) {
      return false;
    }
    dispose(run);
    run.events.add(Aborted.INSTANCE);
    return true;
  }

  private static void dispose(Running run) {
    Disposable call = run.call[0];
    if (call != null) {
      call.dispose();
    }
  }

  /** Stores the answer (or the failure) once, retrying the database, and returns the end state. */
  private JobState store(JobRecord job, Object outcome) throws InterruptedException {
    JobStatus status;
    int httpStatus;
    String result = null;
    String type = null;
    String error = null;
    if (outcome instanceof BufferedAnswer answer) {
      httpStatus = answer.status();
      if (answer.status() < 300) {
        status = JobStatus.COMPLETED;
        result = new String(answer.body(), StandardCharsets.UTF_8);
        type = answer.contentType();
      } else {
        status = JobStatus.FAILED;
        error = WorkerErrors.message(answer.body(), answer.status());
      }
    } else if (outcome instanceof InferenceException e) {
      status = JobStatus.FAILED;
      httpStatus = e.status().value();
      error = e.getMessage();
    } else {
      log.error("Job {} failed", job.id(), (Throwable) outcome);
      status = JobStatus.FAILED;
      httpStatus = 500;
      error = "Request failed, please retry";
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
        return new JobState(status, httpStatus, error);
      } catch (DataAccessException e) {
        // The engine answered: retrying the request would run it twice. Retry the write.
        if (attempt == STORE_ATTEMPTS) {
          throw e;
        }
        log.warn(
            "Could not store the answer of job {} (attempt {}): {}",
            job.id(),
            attempt,
            e.toString());
        Activity.getExecutionContext().heartbeat(JobStatus.PROCESSING);
        Thread.sleep(Duration.ofSeconds(attempt));
      }
    }
  }

  private static JobState cancelled() {
    return new JobState(JobStatus.CANCELLED, JobResponses.CANCELLED_STATUS, JobResponses.CANCELLED);
  }

  static JobState stateOf(JobRecord job) {
    return new JobState(
        job.status(), job.httpStatus() == null ? 0 : job.httpStatus(), job.errorMessage());
  }
}
