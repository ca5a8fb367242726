package dev.gantry.app;

import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.gateway.deployment.DeploymentOrchestrator;
import dev.gantry.gateway.jobs.JobSweeper;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.db.WorkerRepository;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Makes sure every deployment that is not deleted has a workflow that owns it. With an external
 * Temporal cluster this finds them all running (the start joins the existing one). With the
 * embedded server, whose state is in memory, it restarts each from its last recorded status.
 */
@Component
class WorkflowReconciler {
  private static final Logger log = LoggerFactory.getLogger(WorkflowReconciler.class);

  private final DeploymentRepository deployments;
  private final DeploymentOrchestrator orchestrator;
  private final GantryProperties properties;
  private final WorkerRepository workers;
  private final WorkerSweeper sweeper;
  private final ObjectProvider<JobSweeper> jobs;

  WorkflowReconciler(
      DeploymentRepository deployments,
      WorkerRepository workers,
      WorkerSweeper sweeper,
      DeploymentOrchestrator orchestrator,
      GantryProperties properties,
      ObjectProvider<JobSweeper> jobs) {
    this.jobs = jobs;
    this.deployments = deployments;
    this.orchestrator = orchestrator;
    this.properties = properties;
    this.workers = workers;
    this.sweeper = sweeper;
  }

  @EventListener(ApplicationReadyEvent.class)
  void reconcile() {
    if (!properties.hasRole(GantryProperties.ROLE_ORCHESTRATOR)) {
      return;
    }
    // Engines and worker rows nobody owns go first, so restarted deployments count only theirs.
    int orphans = sweeper.sweep();
    if (orphans > 0) {
      log.info("Stopped {} engine(s) left without an owning workflow", orphans);
    }
    int count = 0;
    for (var d : deployments.listNotDeleted()) {
      try {
        orchestrator.start(
            DeploymentWorkflowInput.recovered(
                d.id(),
                d.tenantId(),
                d.spec(),
                d.secretId(),
                d.status(),
                d.statusReason(),
                workers.nextOrdinal(d.id())));
        count++;
      } catch (RuntimeException e) {
        log.error("Could not resume the workflow of deployment {}", d.id(), e);
      }
    }
    if (count > 0) {
      log.info("Ensured workflows for {} deployment(s)", count);
    }
    // Async jobs last: they must not be sent to the engines stopped above.
    jobs.ifAvailable(JobSweeper::resumeUnfinished);
  }
}
