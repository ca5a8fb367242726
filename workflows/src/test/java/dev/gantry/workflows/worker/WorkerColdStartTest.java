package dev.gantry.workflows.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerActivities;
import dev.gantry.api.worker.WorkerSettings;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.api.worker.WorkerWorkflowInput;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The worker's workflow hands its activities what the cold-start records need: the start carries
 * the deployment's decision (the instant the worker's workflow started), and the healthy record the
 * engine's framework, for the timers' tag.
 */
@Timeout(30)
class WorkerColdStartTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(WorkerWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  /** Engines that start and are healthy at once; the inputs are kept. */
  static final class Recording implements WorkerActivities {
    final List<StartWorkerInput> starts = new CopyOnWriteArrayList<>();
    final List<RecordWorkerInput> records = new CopyOnWriteArrayList<>();
    final CountDownLatch healthyRecorded = new CountDownLatch(1);

    @Override
    public StartedWorker startWorker(StartWorkerInput input) {
      starts.add(input);
      return new StartedWorker("http://fake", null, 1);
    }

    @Override
    public void awaitHealthy(WorkerRef worker) {}

    @Override
    public void stopEngine(StopEngineInput input) {}

    @Override
    public int inFlight(WorkerRef worker) {
      return 0;
    }

    @Override
    public void recordWorker(RecordWorkerInput input) {
      records.add(input);
      if (input.status() == WorkerStatus.HEALTHY) {
        healthyRecorded.countDown();
      }
    }
  }

  @Test
  void theStartCarriesTheWorkflowsStartAndTheHealthyRecordTheFramework(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker)
      throws InterruptedException {
    var activities = new Recording();
    worker.registerActivitiesImplementations(activities);
    env.start();
    // The decision comes well after the server's epoch: a start time of 0 would not pass.
    env.sleep(Duration.ofMinutes(7));
    String workflowId = WorkerWorkflow.workflowId("dep_cold", 1);
    var wf =
        client.newWorkflowStub(
            WorkerWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(worker.getTaskQueue())
                .setWorkflowId(workflowId)
                .build());
    WorkflowClient.start(
        wf::run,
        WorkerWorkflowInput.fresh(
            "dep_cold",
            1,
            new EngineIdentity(Framework.SIM, "tiny", null, List.of(), null),
            new WorkerSettings(300, true)));

    assertThat(activities.healthyRecorded.await(10, TimeUnit.SECONDS)).isTrue();

    var startedEvent = client.fetchHistory(workflowId).getEvents().getFirst().getEventTime();
    long started = startedEvent.getSeconds() * 1000 + startedEvent.getNanos() / 1_000_000;
    assertThat(activities.starts).hasSize(1);
    assertThat(activities.starts.getFirst().decidedAtEpochMillis()).isEqualTo(started);
    var healthy =
        activities.records.stream()
            .filter(r -> r.status() == WorkerStatus.HEALTHY)
            .findFirst()
            .orElseThrow();
    assertThat(healthy.framework()).isEqualTo(Framework.SIM);
  }
}
