package dev.gantry.workflows.deployment;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.DeleteRequest;
import dev.gantry.api.deployment.DeploymentActivities;
import dev.gantry.api.deployment.DeploymentActivities.RecordSpecInput;
import dev.gantry.api.deployment.DeploymentActivities.RecordStatusInput;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentState;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.api.deployment.ModelActivities.PrepareModelInput;
import dev.gantry.api.deployment.StorageActivities;
import dev.gantry.api.deployment.StorageActivities.StorageRequest;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Saga;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInit;
import io.temporal.workflow.WorkflowLock;
import java.time.Duration;
import java.util.Arrays;
import org.slf4j.Logger;

/**
 * Owns one deployment. Provisioning is a saga whose compensations are registered before the step
 * they undo and run in a detached scope, so cleanup also happens when the deployment is deleted
 * mid-way. Workers (issue 2) will be started from the serving loop, between {@code running} and
 * deletion.
 */
public class DeploymentWorkflowImpl implements DeploymentWorkflow {
  private static final Logger log = Workflow.getLogger(DeploymentWorkflowImpl.class);

  private static final String[] PERMANENT_FAILURES =
      Arrays.stream(FailureType.values())
          .filter(FailureType::permanent)
          .map(FailureType::name)
          .toArray(String[]::new);

  /** Database writes: retried until the database is back, because state must not be lost. */
  private final DeploymentActivities deployments =
      Workflow.newActivityStub(
          DeploymentActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofSeconds(15))
              // Waiting keeps status writes in order when deletion cancels provisioning.
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumInterval(Duration.ofSeconds(30))
                      .build())
              .build());

  private final StorageActivities storage =
      Workflow.newActivityStub(
          StorageActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofMinutes(2))
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumInterval(Duration.ofSeconds(30))
                      .setMaximumAttempts(10)
                      .setDoNotRetry(PERMANENT_FAILURES)
                      .build())
              .build());

  /** Model downloads are long: they heartbeat progress and resume from it on retry. */
  private final ModelActivities models =
      Workflow.newActivityStub(
          ModelActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofHours(6))
              .setHeartbeatTimeout(Duration.ofMinutes(1))
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(2))
                      .setMaximumInterval(Duration.ofMinutes(1))
                      .setMaximumAttempts(8)
                      .setDoNotRetry(PERMANENT_FAILURES)
                      .build())
              .build());

  private final WorkflowLock lock = Workflow.newWorkflowLock();
  private final String deploymentId;
  private DeploymentSpec spec;
  private DeploymentStatus status = DeploymentStatus.STARTING;
  private String statusReason;
  private DeleteRequest deleteRequest;

  @WorkflowInit
  public DeploymentWorkflowImpl(DeploymentWorkflowInput input) {
    this.deploymentId = input.deploymentId();
    this.spec = input.spec();
  }

  @Override
  public DeploymentState run(DeploymentWorkflowInput input) {
    var recovered = input.recoveredStatus();
    if (recovered == DeploymentStatus.FAILED || recovered == DeploymentStatus.CLEANING) {
      // Failed before the restart: finish the clean-up (idempotent) and stay failed.
      status = DeploymentStatus.FAILED;
      statusReason = input.recoveredReason();
      Workflow.newDetachedCancellationScope(
              () -> {
                storage.removeStorage(new StorageRequest(deploymentId, spec.storageGb()));
                transition(DeploymentStatus.FAILED, input.recoveredReason());
              })
          .run();
    } else if (recovered == DeploymentStatus.DELETING) {
      requestDelete(new DeleteRequest("recovery"));
    } else if (deleteRequest == null) {
      // New, or interrupted while provisioning or running: every step is idempotent.
      provision(input);
    }
    // Serving loop: issue 2 adds demand-driven workers here. Until then a running (or failed)
    // deployment waits for nothing but its deletion, which costs Temporal no timers.
    Workflow.await(() -> deleteRequest != null);
    Workflow.await(Workflow::isEveryHandlerFinished);
    tearDown();
    return state();
  }

  private void provision(DeploymentWorkflowInput input) {
    Saga saga = new Saga(new Saga.Options.Builder().setContinueWithError(true).build());
    var storageRequest = new StorageRequest(deploymentId, spec.storageGb());
    try {
      // Registered first: a create that times out may still have made the directory.
      saga.addCompensation(storage::removeStorage, storageRequest);
      var location = storage.createStorage(storageRequest).location();
      if (deleteRequested()) {
        return;
      }
      transition(DeploymentStatus.FILESYSTEM_CREATED, null);
      transition(DeploymentStatus.DOWNLOADING_MODEL, null);
      models.prepareModel(
          new PrepareModelInput(
              deploymentId, spec.framework(), spec.model(), location, input.secretRef()));
      if (deleteRequested()) {
        return;
      }
      transition(DeploymentStatus.MODEL_DOWNLOADED, null);
      transition(DeploymentStatus.RUNNING, null);
    } catch (ActivityFailure e) {
      if (deleteRequested()) {
        return;
      }
      String reason = reasonFor(e);
      log.warn("Deployment {} failed: {}", deploymentId, reason);
      Workflow.newDetachedCancellationScope(
              () -> {
                transition(DeploymentStatus.CLEANING, reason);
                saga.compensate();
                transition(DeploymentStatus.FAILED, reason);
              })
          .run();
    }
  }

  /**
   * Deletion interrupts provisioning between steps; tear-down then removes whatever was made. Steps
   * are not cancelled mid-way so that a step never finishes after the tear-down that undoes it.
   */
  private boolean deleteRequested() {
    return deleteRequest != null;
  }

  private void tearDown() {
    Workflow.newDetachedCancellationScope(
            () -> {
              transition(DeploymentStatus.DELETING, null);
              storage.removeStorage(new StorageRequest(deploymentId, spec.storageGb()));
              transition(DeploymentStatus.DELETED, null);
            })
        .run();
  }

  private void transition(DeploymentStatus next, String reason) {
    status = next;
    statusReason = reason;
    deployments.recordStatus(new RecordStatusInput(deploymentId, next, reason));
  }

  /** A reason a user can act on: the activity's own message, or which step timed out. */
  static String reasonFor(Exception e) {
    Throwable cause = e instanceof ActivityFailure ? e.getCause() : e;
    String step = e instanceof ActivityFailure af ? stepName(af.getActivityType()) : "provisioning";
    if (cause instanceof ApplicationFailure app) {
      return step + " failed: " + app.getOriginalMessage();
    }
    if (cause instanceof TimeoutFailure) {
      return step + " timed out";
    }
    if (cause instanceof CanceledFailure) {
      return step + " was cancelled";
    }
    return step + " failed: " + (cause == null ? e.getMessage() : cause.getMessage());
  }

  private static String stepName(String activityType) {
    return switch (activityType) {
      case "CreateStorage" -> "creating storage";
      case "PrepareModel" -> "model download";
      default -> activityType;
    };
  }

  @Override
  public void requestDelete(DeleteRequest request) {
    if (deleteRequest != null) {
      return;
    }
    deleteRequest = request;
  }

  @Override
  public void validateEdit(EditRequest request) {
    if (status != DeploymentStatus.RUNNING || deleteRequest != null) {
      throw new IllegalStateException(
          "only a running deployment can be edited; this one is " + status.wireName());
    }
    if (request.idleTimeoutSeconds() != null && request.idleTimeoutSeconds() < 1) {
      throw new IllegalArgumentException("idle_timeout_seconds must be positive");
    }
    if (request.waitTimeSeconds() != null && request.waitTimeSeconds() < 1) {
      throw new IllegalArgumentException("wait_time_seconds must be positive");
    }
  }

  @Override
  public DeploymentState applyEdit(EditRequest request) {
    lock.lock();
    try {
      var edited =
          spec.withEdit(
              request.name() != null ? request.name() : spec.name(),
              request.idleTimeoutSeconds() != null
                  ? request.idleTimeoutSeconds()
                  : spec.idleTimeoutSeconds(),
              request.waitTimeSeconds() != null
                  ? request.waitTimeSeconds()
                  : spec.waitTimeSeconds());
      deployments.recordSpec(new RecordSpecInput(deploymentId, edited));
      spec = edited;
      return state();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public DeploymentState state() {
    return new DeploymentState(status, statusReason, spec);
  }
}
