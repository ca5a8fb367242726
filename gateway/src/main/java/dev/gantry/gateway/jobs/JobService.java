package dev.gantry.gateway.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.job.JobWorkflowInput;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.inference.InferenceException;
import dev.gantry.gateway.inference.ModelCheck;
import dev.gantry.gateway.inference.RequestLimits;
import dev.gantry.gateway.inference.RoutingTable;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.Ids;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRecord;
import dev.gantry.infra.jobs.JobRepository;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Component;

/**
 * The async API: submit, poll, cancel. A job is first written to the database (so an accepted job
 * is never lost, whatever fails next), then its workflow is started; a job whose workflow could not
 * start is started by {@link JobSweeper}. Every method blocks: call it off the event loop.
 */
@ConditionalOnGatewayRole
@Component
public class JobService {
  private static final Logger log = LoggerFactory.getLogger(JobService.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** How long a submit may take between storing a job and starting it: a retry then gets 409. */
  private static final Duration SUBMIT_IN_PROGRESS = Duration.ofSeconds(5);

  private static final int MAX_IDEMPOTENCY_KEY = 255;

  private final JobRepository jobs;
  private final RoutingTable routes;
  private final JobEngine engine;
  private final JobExecutionActivity execution;
  private final GantryProperties.Jobs settings;
  private final JobInputBudget inputBudget;
  private final GantryProperties.Limits limits;
  private final Clock clock;

  public JobService(
      JobRepository jobs,
      RoutingTable routes,
      JobEngine engine,
      JobExecutionActivity execution,
      GantryProperties properties,
      Clock clock) {
    this.jobs = jobs;
    this.routes = routes;
    this.engine = engine;
    this.execution = execution;
    this.settings = properties.jobs();
    this.inputBudget = new JobInputBudget(jobs, settings);
    this.limits = properties.limits();
    this.clock = clock;
  }

  /** {@code POST /deployment/{id}/{route...}} with {@code {"input": {...}}}. */
  public ResponseEntity<byte[]> submit(
      Caller caller, String deploymentId, String route, byte[] body, String idempotencyKey) {
    // Runs on a blocking scheduler: a deployment running since the last table read is found.
    var spec = routes.servedSpecAfterMiss(deploymentId, caller.tenantId());
    if (spec == null) {
      return notFound();
    }
    if (!JobRoutes.allowed(route)) {
      // Only the engine's OpenAI-compatible API, spelled exactly as the engine will read it.
      return JobResponses.error(
          HttpStatus.BAD_REQUEST,
          "The route after the deployment id must be an OpenAI-compatible route, e.g."
              + " v1/chat/completions");
    }
    if (idempotencyKey != null
        && (idempotencyKey.isEmpty()
            || idempotencyKey.length() > MAX_IDEMPOTENCY_KEY
            || !idempotencyKey.chars().allMatch(c -> c >= 0x21 && c <= 0x7e))) {
      return JobResponses.error(
          HttpStatus.BAD_REQUEST,
          "Idempotency-Key must be 1 to " + MAX_IDEMPOTENCY_KEY + " visible ASCII characters");
    }
    JsonNode input;
    try {
      JsonNode root = body.length == 0 ? null : JSON.readTree(body);
      input = root != null && root.isObject() ? root.get("input") : null;
    } catch (java.io.IOException e) {
      input = null;
    }
    if (input == null || !input.isObject()) {
      return JobResponses.error(
          HttpStatus.BAD_REQUEST, "The body must be a JSON object with an \"input\" object");
    }
    String rest = route.substring("v1/".length());
    JsonNode given = input.get("model");
    InferenceException wrongModel =
        ModelCheck.refusal(
            rest,
            given != null && given.isTextual() ? given.asText() : null,
            spec.model(),
            "input.model");
    if (wrongModel != null) {
      return JobResponses.error(wrongModel.status(), wrongModel.getMessage());
    }
    if (ModelCheck.required(rest) && input.path("stream").asBoolean(false)) {
      return JobResponses.error(
          HttpStatus.BAD_REQUEST,
          "stream is not available for async requests: the whole answer is kept for polling;"
              + " use the OpenAI-compatible route to stream");
    }
    byte[] inputJson;
    try {
      inputJson = JSON.writeValueAsBytes(input);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    InferenceException tooMuch = RequestLimits.checkJob(limits, spec, route, inputJson);
    if (tooMuch != null) {
      return JobResponses.error(tooMuch.status(), tooMuch.getMessage());
    }
    String hash = idempotencyKey == null ? null : sha256(route, inputJson);
    if (idempotencyKey != null) {
      var earlier = jobs.findByIdempotencyKey(caller.tenantId(), idempotencyKey);
      if (earlier.isPresent()) {
        return replay(earlier.get(), deploymentId, hash);
      }
    }
    var job =
        JobRecord.queued(
            Ids.newId("req"),
            caller.tenantId(),
            deploymentId,
            route,
            inputJson.length,
            idempotencyKey,
            hash,
            clock.instant());
    try (var reserved = inputBudget.reserve(caller.tenantId(), inputJson.length)) {
      if (reserved == null) {
        return JobResponses.error(
            HttpStatus.TOO_MANY_REQUESTS, InferenceException.queueFull().getMessage());
      }
      jobs.insert(job, inputJson);
    } catch (DuplicateKeyException raced) {
      // Another submit with the same key got there first.
      return jobs.findByIdempotencyKey(caller.tenantId(), idempotencyKey)
          .map(earlier -> replay(earlier, deploymentId, hash))
          .orElseGet(() -> inProgress());
    }
    start(job);
    return accepted(job.id(), JobStatus.QUEUED);
  }

  /**
   * Starts a stored job's workflow; when that fails, the sweeper starts it later.
   *
   * @return whether this call started it (false: it had started, or could not start now)
   */
  boolean start(JobRecord job) {
    long remaining =
        Math.max(
            1,
            Duration.between(clock.instant(), job.createdAt().plus(settings.timeout()))
                .toSeconds());
    try {
      boolean started =
          engine.start(
              new JobWorkflowInput(job.id(), job.deploymentId(), job.tenantId(), remaining));
      if (!job.workflowStarted()) {
        jobs.markWorkflowStarted(job.id());
      }
      return started;
    } catch (RuntimeException e) {
      log.warn(
          "Job {} is stored but its workflow did not start yet ({}); it will be started",
          job.id(),
          e.toString());
      return false;
    }
  }

  /** The answer to a submit that repeats an Idempotency-Key (IETF Idempotency-Key draft). */
  private ResponseEntity<byte[]> replay(JobRecord earlier, String deploymentId, String hash) {
    if (!earlier.deploymentId().equals(deploymentId) || !earlier.requestHash().equals(hash)) {
      return JobResponses.error(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "This Idempotency-Key was already used with a different request");
    }
    if (!earlier.workflowStarted()
        && earlier.createdAt().plus(SUBMIT_IN_PROGRESS).isAfter(clock.instant())) {
      return inProgress();
    }
    return accepted(earlier.id(), earlier.status());
  }

  private static ResponseEntity<byte[]> inProgress() {
    return JobResponses.error(
        HttpStatus.CONFLICT,
        "A request with this Idempotency-Key is still being submitted; retry shortly");
  }

  private static ResponseEntity<byte[]> accepted(String id, JobStatus status) {
    return JobResponses.status(HttpStatus.ACCEPTED, id, status);
  }

  /** {@code GET /deployment/{id}/{request_id}}. */
  public ResponseEntity<byte[]> poll(Caller caller, String deploymentId, String jobId) {
    JobRecord job = owned(caller, deploymentId, jobId);
    if (job == null) {
      return notFound();
    }
    if (job.status().finished()) {
      return finished(job);
    }
    JobStatus status = engine.state(jobId).map(JobState::status).orElse(job.status());
    if (status.finished()) {
      // It ended between the two reads: answer from the database, which has the result.
      return jobs.find(jobId).map(JobService::finished).orElseGet(JobService::notFound);
    }
    return JobResponses.status(HttpStatus.ACCEPTED, job.id(), status);
  }

  /** {@code DELETE /deployment/{id}/{request_id}}: cancels a job that has not finished. */
  public ResponseEntity<byte[]> cancel(Caller caller, String deploymentId, String jobId) {
    JobRecord job = owned(caller, deploymentId, jobId);
    if (job == null) {
      return notFound();
    }
    var now = clock.instant();
    boolean cancelled =
        jobs.finish(jobId, JobState.cancelled(), now, now.plus(settings.retention()));
    if (!cancelled) {
      var ended = jobs.find(jobId).orElse(null);
      if (ended == null) {
        return notFound();
      }
      if (ended.status() == JobStatus.CANCELLED) {
        return JobResponses.status(HttpStatus.ACCEPTED, jobId, JobStatus.CANCELLED);
      }
      return JobResponses.ended(
          HttpStatus.CONFLICT.value(),
          jobId,
          ended.status(),
          "The request has already finished (" + ended.status().wireName() + ")");
    }
    // The engine call stops at once when it runs here; the workflow aborts it on any gateway.
    execution.abort(jobId);
    try {
      engine.cancel(jobId);
    } catch (RuntimeException e) {
      log.warn("Job {} is cancelled but its workflow could not be told ({})", jobId, e.toString());
    }
    return JobResponses.status(HttpStatus.ACCEPTED, jobId, JobStatus.CANCELLED);
  }

  private JobRecord owned(Caller caller, String deploymentId, String jobId) {
    return jobs.find(jobId)
        .filter(
            j -> j.tenantId().equals(caller.tenantId()) && j.deploymentId().equals(deploymentId))
        .orElse(null);
  }

  private static ResponseEntity<byte[]> finished(JobRecord job) {
    if (job.status() == JobStatus.COMPLETED) {
      return JobResponses.result(job.result(), job.resultType());
    }
    return JobResponses.ended(
        job.httpStatus() == null ? 500 : job.httpStatus(),
        job.id(),
        job.status(),
        job.errorMessage() == null ? "Request failed, please retry" : job.errorMessage());
  }

  private static ResponseEntity<byte[]> notFound() {
    var e = InferenceException.notFound();
    return JobResponses.error(e.status(), e.getMessage());
  }

  /** SHA-256 of {@code route + "\n" + input} (UTF-8), without joining them into one copy. */
  private static String sha256(String route, byte[] input) {
    try {
      var digest = MessageDigest.getInstance("SHA-256");
      digest.update((route + "\n").getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest.digest(input));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
