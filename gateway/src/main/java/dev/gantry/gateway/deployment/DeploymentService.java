package dev.gantry.gateway.deployment;

import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.EditRules;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.Ids;
import dev.gantry.infra.billing.CostCalculator;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentIdempotencyRepository;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRecord;
import dev.gantry.infra.db.WorkerRepository;
import dev.gantry.infra.secrets.SecretStore;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The management API's use cases. Blocking (JDBC, Temporal client); controllers call it on a
 * bounded elastic scheduler. It never writes deployment status: the workflow's activities do.
 */
@ConditionalOnGatewayRole
@Service
public class DeploymentService {
  private static final Logger log = LoggerFactory.getLogger(DeploymentService.class);

  private final DeploymentRequestValidator validator;
  private final DeploymentRepository deployments;
  private final WorkerRepository workers;
  private final SecretStore secrets;
  private final DeploymentOrchestrator orchestrator;
  private final CostCalculator costs;
  private final TransactionTemplate tx;
  private final Clock clock;
  private final WorkerLoad load;
  private final DeploymentIdempotencyRepository idempotency;
  private final GantryProperties.Limits limits;

  public DeploymentService(
      DeploymentRequestValidator validator,
      DeploymentRepository deployments,
      WorkerRepository workers,
      SecretStore secrets,
      DeploymentOrchestrator orchestrator,
      CostCalculator costs,
      TransactionTemplate tx,
      Clock clock,
      WorkerLoad load,
      DeploymentIdempotencyRepository idempotency,
      GantryProperties properties) {
    this.validator = validator;
    this.deployments = deployments;
    this.workers = workers;
    this.secrets = secrets;
    this.orchestrator = orchestrator;
    this.costs = costs;
    this.tx = tx;
    this.load = load;
    this.clock = clock;
    this.idempotency = idempotency;
    this.limits = properties.limits();
  }

  /** A create's answer: the deployment, and whether an earlier create with its key made it. */
  public record Created(DeploymentView view, boolean replayed) {}

  /**
   * Creates a deployment; with an {@code Idempotency-Key}, a repeat of an earlier create with that
   * key answers the deployment it made (see {@link CreateIdempotency}).
   */
  public Created create(
      Caller caller, Map<String, Object> body, String baseUrl, String idempotencyKey) {
    String key = idempotencyKey == null ? null : CreateIdempotency.checkedKey(idempotencyKey);
    // Validated first: an invalid request creates nothing and leaves its key unused.
    var command = validator.validateCreate(body, caller.admin());
    String hash = key == null ? null : CreateIdempotency.requestHash(body);
    for (int attempt = 0; ; attempt++) {
      try {
        return new Created(create(caller, command, baseUrl, key, hash), false);
      } catch (DuplicateKeyException used) {
        if (key == null) {
          throw used;
        }
        var earlier = replay(caller, key, hash, baseUrl);
        if (earlier != null) {
          return new Created(earlier, true);
        }
        if (attempt > 0) {
          throw CreateIdempotency.inProgress();
        }
        // The key was freed meanwhile (expired, or its create undone): claim it again.
      }
    }
  }

  private DeploymentView create(
      Caller caller, CreateDeploymentCommand command, String baseUrl, String key, String hash) {
    String id = Ids.newId("dep");
    var now = clock.instant();
    var record =
        tx.execute(
            s -> {
              if (key != null) {
                // First in the transaction: a concurrent create with the same key waits here for
                // this one to commit or roll back, then finds the key taken (or free).
                idempotency.claim(
                    caller.tenantId(), key, hash, id, now, now.plus(CreateIdempotency.RETENTION));
              }
              checkTenantQuota(caller.tenantId());
              String secretId =
                  command.env().isEmpty() ? null : secrets.put(caller.tenantId(), command.env());
              return deployments.insert(id, caller.tenantId(), command.spec(), secretId);
            });
    try {
      orchestrator.start(workflowInput(record));
    } catch (RuntimeException e) {
      // Without a workflow nothing would ever move this deployment, so it must not exist at all.
      log.error("Could not start the workflow of deployment {}; removing it", id, e);
      deployments.deleteUnstarted(id);
      if (key != null) {
        idempotency.forget(caller.tenantId(), key, id);
      }
      throw new ApiProblem(
          HttpStatus.SERVICE_UNAVAILABLE,
          "The control plane is unavailable; nothing was created. Please retry.");
    }
    if (key != null) {
      idempotency.markStarted(caller.tenantId(), key);
      idempotency.deleteExpired(now);
    }
    log.info(
        "Created deployment {} ({} {}) for tenant {}",
        id,
        command.spec().framework().wireName(),
        command.spec().model(),
        caller.tenantId());
    return view(record, List.of(), baseUrl);
  }

  /**
   * The answer to a create that repeats a used key: the deployment it made, or null when the key is
   * free again (expired, or its deployment gone).
   *
   * @throws ApiProblem 422 for a different request, 409 while the first create is under way
   */
  private DeploymentView replay(Caller caller, String key, String hash, String baseUrl) {
    var now = clock.instant();
    var earlier = idempotency.find(caller.tenantId(), key).orElse(null);
    if (earlier == null) {
      return null;
    }
    if (!earlier.expiresAt().isAfter(now)) {
      idempotency.forget(caller.tenantId(), key, earlier.deploymentId());
      return null;
    }
    if (!earlier.requestHash().equals(hash)) {
      throw CreateIdempotency.differentRequest();
    }
    if (!earlier.started()
        && earlier.createdAt().plus(CreateIdempotency.IN_PROGRESS).isAfter(now)) {
      throw CreateIdempotency.inProgress();
    }
    var record = deployments.find(caller.tenantId(), earlier.deploymentId()).orElse(null);
    if (record == null) {
      idempotency.forget(caller.tenantId(), key, earlier.deploymentId());
      return null;
    }
    return view(record, workers.listVisible(record.id()), baseUrl);
  }

  /**
   * One tenant may not have more than its share of deployments: each one provisions (and may
   * download) on the shared orchestrator. Counted under the tenant's row lock, so concurrent
   * creates cannot both take the last place.
   */
  private void checkTenantQuota(String tenantId) {
    int limit = limits.maxDeploymentsPerTenant();
    int current = deployments.lockTenantAndCountActive(tenantId);
    if (current >= limit) {
      throw new ApiProblem(
          HttpStatus.TOO_MANY_REQUESTS,
          "This tenant already has "
              + current
              + " deployments, the most one tenant may have on this platform; delete one first.");
    }
  }

  public List<DeploymentView> list(Caller caller, String baseUrl) {
    return deployments.list(caller.tenantId()).stream()
        .map(d -> view(d, workers.listVisible(d.id()), baseUrl))
        .toList();
  }

  public DeploymentView get(Caller caller, String id, String baseUrl) {
    var record = find(caller, id);
    return view(record, workers.listVisible(id), baseUrl);
  }

  public List<WorkerView> workers(Caller caller, String id) {
    find(caller, id);
    return workers.listVisible(id).stream().map(this::workerView).toList();
  }

  public DeploymentView edit(Caller caller, String id, Map<String, Object> body, String baseUrl) {
    var record = find(caller, id);
    EditRequest edit = validator.validateEdit(body);
    var refusal = EditRules.refusal(record.status(), false);
    if (refusal.isPresent()) {
      throw new ApiProblem(HttpStatus.CONFLICT, refusal.get());
    }
    try {
      orchestrator.edit(id, edit);
    } catch (DeploymentOrchestrator.EditRejectedException e) {
      throw new ApiProblem(HttpStatus.CONFLICT, e.getMessage());
    }
    return get(caller, id, baseUrl);
  }

  public DeploymentView delete(Caller caller, String id, String baseUrl) {
    var record = find(caller, id);
    if (!record.status().goingAway()) {
      orchestrator.requestDelete(workflowInput(record), new DeleteRequest(caller.keyId()));
      log.info("Deletion of deployment {} requested by key {}", id, caller.keyId());
    }
    return get(caller, id, baseUrl);
  }

  /**
   * Reports {@code in_flight} and {@code queued} requests to the deployment's autoscaler, and marks
   * {@code active_workers} (ids of its workers) as just used.
   */
  public void reportDemand(Caller caller, String id, Map<String, Object> body) {
    var record = find(caller, id);
    var demand = validator.validateDemand(body);
    if (record.status() != DeploymentStatus.RUNNING) {
      throw new ApiProblem(
          HttpStatus.CONFLICT,
          "Only a running deployment takes demand; this one is "
              + record.status().wireName()
              + ".");
    }
    var current =
        workers.listVisible(id).stream()
            .filter(w -> w.status().current())
            .map(WorkerRecord::id)
            .collect(java.util.stream.Collectors.toSet());
    for (String workerId : demand.activeWorkers()) {
      if (!current.contains(workerId)) {
        throw new ApiProblem(
            HttpStatus.UNPROCESSABLE_CONTENT,
            "Worker " + workerId + " is not a current worker of deployment " + id + ".");
      }
    }
    orchestrator.reportDemand(id, demand.report());
    var now = new ActivityReport(clock.millis());
    demand.activeWorkers().forEach(w -> orchestrator.reportWorkerActivity(w, now));
  }

  private DeploymentRecord find(Caller caller, String id) {
    return deployments
        .find(caller.tenantId(), id)
        .orElseThrow(() -> ApiProblem.notFound("Deployment " + id));
  }

  private static DeploymentWorkflowInput workflowInput(DeploymentRecord record) {
    return DeploymentWorkflowInput.fresh(
        record.id(), record.tenantId(), record.spec(), record.secretId());
  }

  private DeploymentView view(DeploymentRecord d, List<WorkerRecord> ws, String baseUrl) {
    var spec = d.spec();
    var env = new LinkedHashMap<String, String>();
    spec.envNames().forEach(n -> env.put(n, "***"));
    var current = ws.stream().filter(w -> w.status().current()).toList();
    int provisioning =
        (int)
            current.stream()
                .filter(w -> w.status() == dev.gantry.api.worker.WorkerStatus.PROVISIONING)
                .count();
    int healthy =
        (int)
            current.stream()
                .filter(w -> w.status() == dev.gantry.api.worker.WorkerStatus.HEALTHY)
                .count();
    int draining =
        (int)
            current.stream()
                .filter(w -> w.status() == dev.gantry.api.worker.WorkerStatus.DRAINING)
                .count();
    int failed =
        (int)
            ws.stream()
                .filter(w -> w.status() == dev.gantry.api.worker.WorkerStatus.FAILED)
                .count();
    return new DeploymentView(
        d.id(),
        spec.name(),
        d.status().wireName(),
        d.statusReason(),
        spec.model(),
        spec.framework().wireName(),
        spec.gpu() == null
            ? null
            : new DeploymentView.Gpu(
                spec.gpu().type(), spec.gpu().count(), spec.gpu().fallbackTypes()),
        spec.minWorkers(),
        spec.maxWorkers(),
        spec.concurrency(),
        spec.idleTimeoutSeconds(),
        spec.waitTimeSeconds(),
        spec.storageGb(),
        env,
        spec.frameworkArgs(),
        spec.maxTokensLimit() != null ? spec.maxTokensLimit() : limits.defaultMaxTokensLimit(),
        spec.nLimit() != null ? spec.nLimit() : limits.defaultNLimit(),
        autoscaling(spec),
        new DeploymentView.Workers(provisioning, healthy, current.size(), draining, failed),
        load.queue(d.id()),
        // Every worker interval since creation, not only the visible workers: cost never goes down.
        costs.accrued(d, workers.intervals(d.id())),
        baseUrl + "/openai/" + d.id() + "/v1",
        text(d.createdAt()),
        text(d.updatedAt()),
        download(d));
  }

  private static DeploymentView.Autoscaling autoscaling(
      dev.gantry.api.deployment.DeploymentSpec spec) {
    var policy = spec.scalingPolicy();
    return new DeploymentView.Autoscaling(
        policy.targetUtilization(),
        spec.autoscaling().scaleDownDelaySeconds(),
        policy.warmBuffer(),
        (int) policy.queueDelayMillis());
  }

  /** Progress of the model download, shown while it runs (a finished one is in the status). */
  private static DeploymentView.Download download(DeploymentRecord d) {
    if (d.status() != DeploymentStatus.DOWNLOADING_MODEL) {
      return null;
    }
    var p = d.download();
    return p == null
        ? new DeploymentView.Download(0, 0)
        : new DeploymentView.Download(p.bytesDone(), p.bytesTotal());
  }

  private WorkerView workerView(WorkerRecord w) {
    return new WorkerView(
        w.id(),
        w.status().wireName(),
        w.gpuType(),
        text(w.createdAt()),
        text(w.healthyAt()),
        text(w.stoppedAt()),
        w.stoppedAt() == null ? load.inFlight(w.deploymentId(), w.id()) : 0,
        w.failureReason(),
        WorkerView.ColdStart.of(
            w.decidedAt(), w.processStartedAt(), w.healthyAt(), w.firstRoutedAt()));
  }

  private static String text(Instant instant) {
    return instant == null ? null : instant.toString();
  }
}
