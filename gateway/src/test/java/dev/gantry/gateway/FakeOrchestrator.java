package dev.gantry.gateway;

import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.worker.ActivityReport;
import dev.gantry.gateway.deployment.DeploymentOrchestrator;
import dev.gantry.infra.db.DeploymentRepository;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Stands in for the workflows: records what the API asked for and writes the states a workflow
 * would, so API tests see a deployment reach {@code running} and {@code deleted}.
 */
public class FakeOrchestrator implements DeploymentOrchestrator {
  final List<DeploymentWorkflowInput> started = new CopyOnWriteArrayList<>();
  final List<String> deleted = new CopyOnWriteArrayList<>();
  final List<DemandReport> demand = new CopyOnWriteArrayList<>();
  final List<String> activeWorkers = new CopyOnWriteArrayList<>();
  volatile boolean failStarts;

  /** When set, {@link #start} waits for it: a create that is still under way. */
  volatile java.util.concurrent.CountDownLatch holdStarts;

  private final DeploymentRepository repository;

  public FakeOrchestrator(DeploymentRepository repository) {
    this.repository = repository;
  }

  void reset() {
    started.clear();
    deleted.clear();
    demand.clear();
    activeWorkers.clear();
    failStarts = false;
    holdStarts = null;
  }

  @Override
  public void start(DeploymentWorkflowInput input) {
    var hold = holdStarts;
    if (hold != null) {
      try {
        hold.await(30, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (failStarts) {
      throw new IllegalStateException("temporal is down");
    }
    started.add(input);
    repository.updateStatus(input.deploymentId(), DeploymentStatus.RUNNING, null);
  }

  @Override
  public void requestDelete(DeploymentWorkflowInput input, DeleteRequest request) {
    deleted.add(input.deploymentId());
    repository.updateStatus(input.deploymentId(), DeploymentStatus.DELETED, null);
  }

  @Override
  public DeploymentState edit(String deploymentId, EditRequest request) {
    var current = repository.findById(deploymentId).orElseThrow();
    var spec = current.spec().withEdit(request);
    repository.updateSpec(deploymentId, spec);
    return new DeploymentState(current.status(), null, spec, java.util.List.of(), 0);
  }

  @Override
  public void reportDemand(String deploymentId, DemandReport report) {
    demand.add(report);
  }

  @Override
  public void reportWorkerActivity(String workerId, ActivityReport report) {
    activeWorkers.add(workerId);
  }
}
