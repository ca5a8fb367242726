package dev.gantry.workflows.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.api.worker.WorkerSettings;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.api.worker.WorkerWorkflowInput;
import dev.gantry.workflows.worker.WorkerWorkflowImpl;
import io.temporal.api.sdk.v1.WorkflowMetadata;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker's workflow tells the Temporal UI what it is (its current details, answered by the SDK's
 * built-in metadata query, as the UI asks it): which worker of which deployment, running what.
 */
@Timeout(60)
class WorkerWorkflowDetailsTest {
  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(WorkerWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  @Test
  void aWorkerWorkflowDescribesItselfToTheTemporalUi(
      TestWorkflowEnvironment env, WorkflowClient client, Worker worker) {
    var engines = new FakeWorkerActivities();
    worker.registerActivitiesImplementations(engines);
    engines.client = client;
    env.start();
    var wf =
        client.newWorkflowStub(
            WorkerWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(worker.getTaskQueue())
                .setWorkflowId(WorkerWorkflow.workflowId("dep_ui", 3))
                .build());
    WorkflowClient.start(
        wf::run,
        WorkerWorkflowInput.fresh(
            "dep_ui",
            3,
            new EngineIdentity(
                Framework.VLLM, "org/model", new GpuSpec("L4", 1, List.of()), List.of(), "ref-1"),
            new WorkerSettings(300, false)));

    // The query runs the workflow's first task, whatever the worker is doing by then.
    var metadata =
        WorkflowStub.fromTyped(wf).query("__temporal_workflow_metadata", WorkflowMetadata.class);
    assertThat(metadata.getCurrentDetails())
        .isEqualTo("**Worker** `dep_ui-w3` of deployment `dep_ui`: vllm `org/model`, 1 × L4")
        .doesNotContain("ref-1");
  }
}
