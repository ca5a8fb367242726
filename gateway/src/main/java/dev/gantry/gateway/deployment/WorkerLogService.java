package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.error.FieldError;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRecord;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.runtime.LogFollow;
import dev.gantry.infra.runtime.LogRedaction;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.secrets.SecretStore;
import io.swagger.v3.oas.annotations.media.Schema;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.http.HttpStatus;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.stereotype.Service;
import reactor.core.publisher.BufferOverflowStrategy;
import reactor.core.publisher.Flux;

/**
 * Workers' engine logs, read through the runtime port, over the workers the workers listing shows
 * (current ones and those that ended in the last 24 hours). Every line leaving here is masked: by
 * the deployment's own env values and by credential shapes.
 */
@ConditionalOnGatewayRole
@Service
public class WorkerLogService {
  public static final int DEFAULT_TAIL = 200;
  public static final int MAX_TAIL = 5000;

  /**
   * Lines a slow client may fall behind a follow by; older ones are dropped, so a follow holds at
   * most this many lines of 16 KiB.
   */
  static final int FOLLOW_BUFFER_LINES = 1024;

  private final DeploymentRepository deployments;
  private final WorkerRepository workers;
  private final SecretStore secrets;
  private final WorkerRuntime runtime;
  private final int followsPerDeployment;
  private final Map<String, AtomicInteger> follows = new ConcurrentHashMap<>();

  public WorkerLogService(
      DeploymentRepository deployments,
      WorkerRepository workers,
      SecretStore secrets,
      WorkerRuntime runtime,
      GantryProperties properties) {
    this.deployments = deployments;
    this.workers = workers;
    this.secrets = secrets;
    this.runtime = runtime;
    this.followsPerDeployment = properties.observability().logFollowsPerDeployment();
  }

  @Schema(
      name = "WorkerLogs",
      description = "The last lines of each worker's engine log, newest worker first",
      requiredProperties = {"data"})
  public record Logs(List<WorkerLog> data) {}

  @Schema(
      name = "WorkerLog",
      requiredProperties = {"worker_id", "status", "lines"})
  public record WorkerLog(
      @JsonProperty("worker_id") String workerId,
      @Schema(description = "The worker's status, as in the workers listing") String status,
      @Schema(description = "Oldest first; secrets masked as ***; each at most 16 KiB")
          List<String> lines) {}

  /** One line of a follow, the data of its server-sent event. */
  public record LogLine(@JsonProperty("worker_id") String workerId, String line) {}

  /** The options of a logs request, as the query string gave them. */
  public record Query(String worker, int tail, boolean follow) {
    /** Parses and checks the query parameters; all invalid ones are listed in one 400. */
    public static Query parse(String worker, String tail, String follow) {
      var errors = new ArrayList<FieldError>();
      int lines = DEFAULT_TAIL;
      if (tail != null) {
        try {
          lines = Integer.parseInt(tail.strip());
          if (lines < 0 || lines > MAX_TAIL) {
            errors.add(new FieldError("tail", "must be between 0 and " + MAX_TAIL));
          }
        } catch (NumberFormatException e) {
          errors.add(new FieldError("tail", "must be a whole number of lines"));
        }
      }
      boolean following = false;
      if (follow != null) {
        if (follow.equalsIgnoreCase("true")) {
          following = true;
        } else if (!follow.equalsIgnoreCase("false")) {
          errors.add(new FieldError("follow", "must be true or false"));
        }
      }
      if (following && (worker == null || worker.isBlank())) {
        errors.add(new FieldError("worker", "is required with follow=true"));
      }
      if (!errors.isEmpty()) {
        throw ApiProblem.validation(errors);
      }
      return new Query(worker == null || worker.isBlank() ? null : worker, lines, following);
    }
  }

  /** The last lines of one worker's log, or of every listed worker's (newest first). */
  public Logs tail(Caller caller, String deploymentId, Query query) {
    var deployment = find(caller, deploymentId);
    var listed = listed(deploymentId, query.worker());
    var redaction = redaction(deployment);
    var data = new ArrayList<WorkerLog>();
    for (WorkerRecord w : listed) {
      List<String> lines =
          query.tail() == 0
              ? List.of()
              : runtime
                  .logTail(w.id(), query.tail())
                  .lines()
                  .map(l -> masked(redaction, l))
                  .toList();
      data.add(new WorkerLog(w.id(), w.status().wireName(), lines));
    }
    return new Logs(data);
  }

  /**
   * A live follow of one worker's log as server-sent events: the last {@code tail} lines, then new
   * lines, then an {@code end} event once the worker stopped (at once when it has). Cancelling the
   * returned stream (the client left) closes the runtime's follow.
   *
   * @throws ApiProblem 404 for another tenant's deployment or a worker not listed, 429 when the
   *     tenant already holds its most follows of this deployment
   */
  public Flux<ServerSentEvent<Object>> follow(Caller caller, String deploymentId, Query query) {
    var deployment = find(caller, deploymentId);
    var worker = listed(deploymentId, query.worker()).getFirst();
    var redaction = redaction(deployment);
    String key = caller.tenantId() + "/" + deploymentId;
    AtomicInteger held = follows.computeIfAbsent(key, k -> new AtomicInteger());
    if (held.incrementAndGet() > followsPerDeployment) {
      held.decrementAndGet();
      throw new ApiProblem(
          HttpStatus.TOO_MANY_REQUESTS,
          "This tenant already follows "
              + followsPerDeployment
              + " logs of deployment "
              + deploymentId
              + " at once, the most allowed (gantry.observability.log-follows-per-deployment);"
              + " close one first.");
    }
    var released = new AtomicBoolean();
    Runnable release =
        () -> {
          if (released.compareAndSet(false, true)) {
            held.decrementAndGet();
          }
        };
    String workerId = worker.id();
    Flux<ServerSentEvent<Object>> lines =
        Flux.<ServerSentEvent<Object>>create(
                sink -> {
                  LogFollow follow;
                  try {
                    follow =
                        runtime.followLog(
                            workerId,
                            query.tail(),
                            new LogFollow.Listener() {
                              @Override
                              public void line(String line) {
                                sink.next(
                                    ServerSentEvent.builder()
                                        .data(new LogLine(workerId, masked(redaction, line)))
                                        .build());
                              }

                              @Override
                              public void end() {
                                sink.next(
                                    ServerSentEvent.builder()
                                        .event("end")
                                        .data(Map.of("worker_id", workerId))
                                        .build());
                                sink.complete();
                              }
                            });
                  } catch (RuntimeException e) {
                    release.run();
                    sink.error(e);
                    return;
                  }
                  sink.onDispose(
                      () -> {
                        follow.close();
                        release.run();
                      });
                })
            .onBackpressureBuffer(
                FOLLOW_BUFFER_LINES, dropped -> {}, BufferOverflowStrategy.DROP_OLDEST);
    return lines.doFinally(signal -> release.run());
  }

  /** Live follows held now, for tests and metrics. */
  public int activeFollows() {
    return follows.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  private DeploymentRecord find(Caller caller, String id) {
    return deployments
        .find(caller.tenantId(), id)
        .orElseThrow(() -> ApiProblem.notFound("Deployment " + id));
  }

  /** The workers asked for, newest first: one by id, or all the listing shows. */
  private List<WorkerRecord> listed(String deploymentId, String workerId) {
    var visible =
        workers.listVisible(deploymentId).stream()
            .sorted(
                Comparator.comparing(WorkerRecord::createdAt)
                    .thenComparing(WorkerRecord::id)
                    .reversed())
            .toList();
    if (workerId == null) {
      return visible;
    }
    return visible.stream()
        .filter(w -> w.id().equals(workerId))
        .findFirst()
        .map(List::of)
        .orElseThrow(
            () -> ApiProblem.notFound("Worker " + workerId + " of deployment " + deploymentId));
  }

  private LogRedaction redaction(DeploymentRecord deployment) {
    if (deployment.secretId() == null) {
      return LogRedaction.withValues(List.of());
    }
    return LogRedaction.withValues(
        secrets.resolve(deployment.secretId()).map(Map::values).orElse(List.of()));
  }

  /** Masked, and cut to the most bytes a line may have (a runtime's tail is not cut). */
  private static String masked(LogRedaction redaction, String line) {
    String masked = redaction.mask(line);
    byte[] bytes = masked.getBytes(StandardCharsets.UTF_8);
    return bytes.length <= LogFollow.MAX_LINE_BYTES
        ? masked
        : new String(bytes, 0, LogFollow.MAX_LINE_BYTES, StandardCharsets.UTF_8);
  }
}
