package dev.gantry.gateway.jobs;

import dev.gantry.api.TaskQueues;
import dev.gantry.api.job.JobProgress;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobWorkflow;
import dev.gantry.api.job.JobWorkflowInput;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.IndexedValueType;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.api.operatorservice.v1.AddSearchAttributesRequest;
import io.temporal.api.workflowservice.v1.DeleteWorkflowExecutionRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.common.SearchAttributes;
import io.temporal.serviceclient.OperatorServiceStubs;
import io.temporal.serviceclient.OperatorServiceStubsOptions;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Jobs as Temporal workflows ({@code job/{request_id}}), searchable in the Temporal UI by the
 * {@code GantryDeploymentId} search attribute, which this registers on first use.
 */
@ConditionalOnGatewayRole
@Component
public class TemporalJobEngine implements JobEngine {
  private static final Logger log = LoggerFactory.getLogger(TemporalJobEngine.class);

  private final WorkflowClient client;
  private volatile Boolean searchable;

  public TemporalJobEngine(WorkflowClient client) {
    this.client = client;
  }

  @Override
  public boolean start(JobWorkflowInput input) {
    var options =
        WorkflowOptions.newBuilder()
            .setTaskQueue(TaskQueues.CONTROL)
            .setWorkflowId(JobWorkflow.workflowId(input.jobId()))
            // A job whose workflow ended (completed, failed, cancelled) must never run again.
            .setWorkflowIdReusePolicy(
                WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
            // Ids only, as in the history: the input and the answer stay in the database.
            .setStaticSummary(
                "Async job %s for deployment %s".formatted(input.jobId(), input.deploymentId()))
            .setStaticDetails(
                "Async request `%s` of tenant `%s` to deployment `%s`, timeout %d s"
                    .formatted(
                        input.jobId(),
                        input.tenantId(),
                        input.deploymentId(),
                        input.timeoutSeconds()));
    if (searchable()) {
      options.setTypedSearchAttributes(
          SearchAttributes.newBuilder()
              .set(JobWorkflow.DEPLOYMENT_ID, input.deploymentId())
              .build());
    }
    try {
      WorkflowClient.start(client.newWorkflowStub(JobWorkflow.class, options.build())::run, input);
      return true;
    } catch (WorkflowExecutionAlreadyStarted alreadyStarted) {
      // Running or ended: either way this job has its one workflow.
      return false;
    }
  }

  @Override
  public void cancel(String jobId) {
    try {
      client.newUntypedWorkflowStub(JobWorkflow.workflowId(jobId)).cancel();
    } catch (WorkflowNotFoundException ended) {
      // Nothing left to cancel.
    }
  }

  @Override
  public void progress(String jobId, JobProgress progress) {
    try {
      client.newWorkflowStub(JobWorkflow.class, JobWorkflow.workflowId(jobId)).progress(progress);
    } catch (WorkflowNotFoundException ended) {
      // The job was cancelled meanwhile.
    }
  }

  @Override
  public Optional<JobState> state(String jobId) {
    try {
      return Optional.of(
          client.newWorkflowStub(JobWorkflow.class, JobWorkflow.workflowId(jobId)).state());
    } catch (RuntimeException e) {
      log.debug("Could not query job {}: {}", jobId, e.toString());
      return Optional.empty();
    }
  }

  @Override
  public void forget(String jobId) {
    try {
      client
          .getWorkflowServiceStubs()
          .blockingStub()
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .deleteWorkflowExecution(
              DeleteWorkflowExecutionRequest.newBuilder()
                  .setNamespace(client.getOptions().getNamespace())
                  .setWorkflowExecution(
                      WorkflowExecution.newBuilder()
                          .setWorkflowId(JobWorkflow.workflowId(jobId))
                          .build())
                  .build());
    } catch (StatusRuntimeException e) {
      var code = e.getStatus().getCode();
      if (code != Status.Code.NOT_FOUND && code != Status.Code.UNIMPLEMENTED) {
        log.warn("Could not delete the workflow of expired job {}: {}", jobId, e.getStatus());
      }
    }
  }

  /** Registers the search attribute once; without it (no permission) jobs start unsearchable. */
  private boolean searchable() {
    Boolean known = searchable;
    if (known != null) {
      return known;
    }
    synchronized (this) {
      if (searchable == null) {
        Boolean registered = registerSearchAttribute();
        if (registered == null) {
          return false;
        }
        searchable = registered;
      }
      return searchable;
    }
  }

  /** True: registered; false: not allowed here; null: failed for now. */
  private Boolean registerSearchAttribute() {
    String name = JobWorkflow.DEPLOYMENT_ID.getName();
    var stubs =
        OperatorServiceStubs.newServiceStubs(
            OperatorServiceStubsOptions.newBuilder()
                .setChannel(client.getWorkflowServiceStubs().getRawChannel())
                .validateAndBuildWithDefaults());
    try {
      stubs
          .blockingStub()
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .addSearchAttributes(
              AddSearchAttributesRequest.newBuilder()
                  .setNamespace(client.getOptions().getNamespace())
                  .putSearchAttributes(name, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD)
                  .build());
      log.info("Registered the Temporal search attribute {} for jobs", name);
      return true;
    } catch (StatusRuntimeException e) {
      var code = e.getStatus().getCode();
      if (code == Status.Code.ALREADY_EXISTS) {
        return true;
      }
      if (code != Status.Code.PERMISSION_DENIED && code != Status.Code.UNIMPLEMENTED) {
        // Transient: try again with the next job.
        log.debug("Could not register the search attribute yet: {}", e.getStatus());
        return null;
      }
      log.warn(
          "Could not register the Temporal search attribute {} ({}); jobs start without it."
              + " Register it with: temporal operator search-attribute create --name {}"
              + " --type Keyword",
          name,
          e.getStatus(),
          name);
      return false;
    } finally {
      stubs.shutdown();
    }
  }
}
