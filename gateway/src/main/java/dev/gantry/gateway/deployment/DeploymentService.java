package dev.gantry.gateway.deployment;

import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.infra.Ids;
import dev.gantry.infra.billing.CostCalculator;
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
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The management API's use cases. Blocking (JDBC, Temporal client); controllers call it on a
 * bounded elastic scheduler. It never writes deployment status: the workflow's activities do.
 */
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
  private final int maxDeploymentsPerTenant;

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
      dev.gantry.infra.config.GantryProperties properties) {
    this.maxDeploymentsPerTenant = properties.limits().maxDeploymentsPerTenant();
    this.validator = validator;
    this.deployments = deployments;
    this.workers = workers;
    this.secrets = secrets;
    this.orchestrator = orchestrator;
    this.costs = costs;
    this.tx = tx;
    this.load = load;
    this.clock = clock;
  }

  public DeploymentView create(Caller caller, Map<String, Object> body, String baseUrl) {
    var command = validator.validateCreate(body, caller.admin());
    String id = Ids.newId("dep");
    var record =
        tx.execute(
            s -> {
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
      throw new ApiProblem(
          HttpStatus.SERVICE_UNAVAILABLE,
          "The control plane is unavailable; nothing was created. Please retry.");
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
   * One tenant may not have more than its share of deployments: each one provisions (and may
   * download) on the shared orchestrator. Counted under the tenant's row lock, so concurrent
   * creates cannot both take the last place.
   */
  private void checkTenantQuota(String tenantId) {
    int limit = maxDeploymentsPerTenant;
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
    if (record.status() != DeploymentStatus.RUNNING) {
      throw new ApiProblem(
          HttpStatus.CONFLICT,
          "Only a running deployment can be edited; this one is "
              + record.status().wireName()
              + ".");
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
        new DeploymentView.Workers(provisioning, healthy, current.size()),
        // Every worker since creation, not only the visible ones, so cost never goes down.
        costs.accrued(d, workers.listBillable(d.id())),
        baseUrl + "/openai/" + d.id() + "/v1",
        text(d.createdAt()),
        text(d.updatedAt()),
        download(d));
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
        w.failureReason());
  }

  private static String text(Instant instant) {
    return instant == null ? null : instant.toString();
  }
}
