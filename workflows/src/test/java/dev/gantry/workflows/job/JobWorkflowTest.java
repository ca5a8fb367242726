package dev.gantry.workflows.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.api.FailureType;
import dev.gantry.api.TaskQueues;
import dev.gantry.api.job.JobExecution;
import dev.gantry.api.job.JobProgress;
import dev.gantry.api.job.JobRecords;
import dev.gantry.api.job.JobState;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.job.JobWorkflow;
import dev.gantry.api.job.JobWorkflowInput;
import io.temporal.activity.Activity;
import io.temporal.client.ActivityCompletionException;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

@Timeout(30)
class JobWorkflowTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(JobWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  /** The gateway's execution, scripted per attempt, and the orchestrator's outcome writes. */
  static final class Fakes implements JobExecution, JobRecords {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final AtomicInteger attempts = new AtomicInteger();
    final CountDownLatch running = new CountDownLatch(1);
    volatile Function<Integer, JobState> script = attempt -> completed();

    @Override
    public JobState execute(ExecuteJob input) {
      int attempt = attempts.incrementAndGet();
      calls.add("execute:" + input.jobId() + "#" + attempt);
      running.countDown();
      return script.apply(attempt);
    }

    @Override
    public void recordOutcome(JobOutcome outcome) {
      calls.add(
          "record:"
              + outcome.end().status().wireName()
              + "/"
              + outcome.end().httpStatus()
              + "/"
              + outcome.end().error());
    }
  }

  static JobState completed() {
    return new JobState(JobStatus.COMPLETED, 200, null);
  }

  private static JobWorkflow start(
      TestWorkflowEnvironment env,
      WorkflowClient client,
      Worker worker,
      Fakes fakes,
      long timeout) {
    worker.registerActivitiesImplementations(fakes);
    // As the gateway's job worker does: heartbeats (and so cancellations) every second.
    env.newWorker(
            TaskQueues.JOBS,
            WorkerOptions.newBuilder()
                .setMaxHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .setDefaultHeartbeatThrottleInterval(Duration.ofSeconds(1))
                .build())
        .registerActivitiesImplementations(fakes);
    env.start();
    var wf =
        client.newWorkflowStub(
            JobWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(worker.getTaskQueue())
                .setWorkflowId(JobWorkflow.workflowId("req_1"))
                .build());
    WorkflowClient.start(wf::run, new JobWorkflowInput("req_1", "dep_1", "t1", timeout));
    return wf;
  }

  private static JobState result(JobWorkflow wf) {
    return WorkflowStub.fromTyped(wf).getResult(JobState.class);
  }

  @Test
  void aCompletedExecutionIsTheJobsEndAndNothingElseIsRecorded(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var fakes = new Fakes();
    var wf = start(env, client, worker, fakes, 3600);

    assertThat(result(wf)).isEqualTo(completed());
    assertThat(wf.state()).isEqualTo(completed());
    // The execution stored the answer itself: the workflow writes nothing more.
    assertThat(fakes.calls).containsExactly("execute:req_1#1");
  }

  @Test
  void aFailedAnswerIsTheJobsEndWithItsStatus(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var fakes = new Fakes();
    fakes.script = attempt -> new JobState(JobStatus.FAILED, 502, "Worker returned an error");
    var wf = start(env, client, worker, fakes, 3600);

    assertThat(result(wf))
        .isEqualTo(new JobState(JobStatus.FAILED, 502, "Worker returned an error"));
    assertThat(fakes.calls).containsExactly("execute:req_1#1");
  }

  @Test
  void progressIsQueryableAndNeverMovesBackwards(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) throws Exception {
    var fakes = new Fakes();
    var release = new CountDownLatch(1);
    fakes.script =
        attempt -> {
          await(release);
          return completed();
        };
    var wf = start(env, client, worker, fakes, 3600);
    assertThat(fakes.running.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(wf.state().status()).isEqualTo(JobStatus.QUEUED);

    wf.progress(new JobProgress(JobStatus.FETCHED));
    assertThat(wf.state().status()).isEqualTo(JobStatus.FETCHED);
    wf.progress(new JobProgress(JobStatus.PROCESSING));
    wf.progress(new JobProgress(JobStatus.FETCHED)); // late, out of order
    assertThat(wf.state().status()).isEqualTo(JobStatus.PROCESSING);
    wf.progress(new JobProgress(JobStatus.COMPLETED)); // only the execution ends a job
    assertThat(wf.state().status()).isEqualTo(JobStatus.PROCESSING);

    release.countDown();
    assertThat(result(wf).status()).isEqualTo(JobStatus.COMPLETED);
  }

  @Test
  void aGatewayThatDiesMidJobIsReplacedByAnotherAttempt(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var fakes = new Fakes();
    fakes.script =
        attempt -> {
          if (attempt == 1) {
            throw ApplicationFailure.newFailure("gateway went away", FailureType.TRANSIENT.name());
          }
          return completed();
        };
    var wf = start(env, client, worker, fakes, 3600);

    assertThat(result(wf)).isEqualTo(completed());
    assertThat(fakes.calls).containsExactly("execute:req_1#1", "execute:req_1#2");
  }

  @Test
  void aPermanentExecutionFailureIsRecordedAsFailed(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var fakes = new Fakes();
    fakes.script =
        attempt -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "bad route", FailureType.INVALID_SPEC.name());
        };
    var wf = start(env, client, worker, fakes, 3600);

    assertThat(result(wf).status()).isEqualTo(JobStatus.FAILED);
    assertThat(fakes.calls)
        .containsExactly("execute:req_1#1", "record:failed/500/Request failed, please retry");
  }

  @Test
  void cancellingARunningJobAbortsItsCallAndRecordsCancelled(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) throws Exception {
    var fakes = new Fakes();
    var aborted = new CountDownLatch(1);
    fakes.script =
        attempt -> {
          // The gateway heartbeats while the engine works; a cancellation surfaces there.
          try {
            for (int i = 0; i < 200; i++) {
              Activity.getExecutionContext().heartbeat(JobStatus.PROCESSING);
              Thread.sleep(100);
            }
          } catch (ActivityCompletionException e) {
            aborted.countDown();
            throw e;
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return completed();
        };
    var wf = start(env, client, worker, fakes, 3600);
    assertThat(fakes.running.await(10, TimeUnit.SECONDS)).isTrue();

    WorkflowStub.fromTyped(wf).cancel();

    assertThat(aborted.await(5, TimeUnit.SECONDS)).as("cancelled within a heartbeat").isTrue();
    // The workflow closes as cancelled once the end is recorded.
    assertThatThrownBy(() -> result(wf))
        .isInstanceOf(WorkflowFailedException.class)
        .hasMessageContaining("was cancelled");
    assertThat(wf.state())
        .isEqualTo(new JobState(JobStatus.CANCELLED, 410, "The request was cancelled"));
    assertThat(fakes.calls)
        .containsExactly("execute:req_1#1", "record:cancelled/410/The request was cancelled");
  }

  @Test
  void aJobOutOfTimeFailsAsATimeout(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var fakes = new Fakes();
    var never = new CountDownLatch(1);
    fakes.script =
        attempt -> {
          try {
            never.await(3, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return completed();
        };
    var wf = start(env, client, worker, fakes, 1);

    assertThat(result(wf))
        .isEqualTo(new JobState(JobStatus.FAILED, 504, "Inference timed out, please retry"));
    assertThat(fakes.calls).contains("record:failed/504/Inference timed out, please retry");
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
