package dev.gantry.workflows.job;

import static dev.gantry.workflows.ActivityPolicies.PERMANENT_FAILURES;

import dev.gantry.api.TaskQueues;
import dev.gantry.api.job.JobExecution;
import dev.gantry.api.job.JobExecution.ExecuteJob;
import dev.gantry.api.job.JobProgress;
import dev.gantry.api.job.JobRecords;
import dev.gantry.api.job.JobRecords.JobOutcome;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.job.JobWorkflow;
import dev.gantry.api.job.JobWorkflowInput;
import dev.gantry.workflows.ActivityPolicies;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * One async request. The request itself runs in one activity on a gateway ({@link JobExecution}),
 * which waits in the deployment's admission queue, calls the worker and stores the answer; this
 * workflow keeps the job's state for queries, retries the execution when the gateway running it
 * dies (its heartbeats stop), and records the end when the execution could not: a cancellation, or
 * the job's time running out.
 */
public class JobWorkflowImpl implements JobWorkflow {
  private static final Logger log = Workflow.getLogger(JobWorkflowImpl.class);

  /** A gateway that stops heartbeating this long is taken for dead; another one takes the job. */
  static final Duration HEARTBEAT_TIMEOUT = Duration.ofSeconds(20);

  private final JobRecords records =
      Workflow.newActivityStub(JobRecords.class, ActivityPolicies.databaseWrites().build());

  private JobState state = JobState.of(JobStatus.QUEUED);

  @Override
  public JobState run(JobWorkflowInput input) {
    Duration timeout = Duration.ofSeconds(Math.max(1, input.timeoutSeconds()));
    JobExecution execution =
        Workflow.newActivityStub(
            JobExecution.class,
            ActivityOptions.newBuilder()
                .setTaskQueue(TaskQueues.JOBS)
                .setScheduleToCloseTimeout(timeout)
                .setHeartbeatTimeout(HEARTBEAT_TIMEOUT)
                // The engine call is aborted before the job counts as cancelled.
                .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
                .setRetryOptions(
                    RetryOptions.newBuilder()
                        .setInitialInterval(Duration.ofSeconds(1))
                        .setMaximumInterval(Duration.ofSeconds(10))
                        .setDoNotRetry(PERMANENT_FAILURES)
                        .build())
                .build());
    try {
      state = execution.execute(new ExecuteJob(input.jobId(), input.deploymentId()));
      return state;
    } catch (ActivityFailure e) {
      if (e.getCause() instanceof CanceledFailure
          || CancellationScope.current().isCancelRequested()) {
        return end(input, JobState.cancelled());
      }
      if (e.getCause() instanceof TimeoutFailure) {
        log.warn("Job {} ran out of time: {}", input.jobId(), e.getCause().getMessage());
        return end(input, JobState.timedOut());
      }
      log.warn("Job {} failed: {}", input.jobId(), e.getCause().getMessage());
      return end(input, new JobState(JobStatus.FAILED, 500, "Request failed, please retry"));
    } catch (CanceledFailure e) {
      return end(input, JobState.cancelled());
    }
  }

  /** Records the end in a scope of its own, so a cancellation cannot stop the write. */
  private JobState end(JobWorkflowInput input, JobState end) {
    state = end;
    Workflow.newDetachedCancellationScope(
            () -> records.recordOutcome(new JobOutcome(input.jobId(), end)))
        .run();
    return state;
  }

  @Override
  public void progress(JobProgress progress) {
    // Forward only: a late signal never moves a job back.
    if (!state.status().finished()
        && !progress.status().finished()
        && progress.status().ordinal() > state.status().ordinal()) {
      state = JobState.of(progress.status());
    }
  }

  @Override
  public JobState state() {
    return state;
  }
}
