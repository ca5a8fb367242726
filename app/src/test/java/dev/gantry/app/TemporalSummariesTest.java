package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentWorkflow;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.api.job.JobWorkflow;
import dev.gantry.api.job.JobWorkflowInput;
import dev.gantry.gateway.deployment.TemporalDeploymentOrchestrator;
import dev.gantry.gateway.jobs.TemporalJobEngine;
import io.temporal.testing.TestWorkflowEnvironment;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Deployment and job workflows start with a summary and details the Temporal UI shows in its
 * workflow list and page, read back here as the UI reads them (DescribeWorkflowExecution); they
 * name the deployment, never its env values.
 */
@Timeout(60)
class TemporalSummariesTest {
  final TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance();

  @AfterEach
  void close() {
    env.close();
  }

  @Test
  void aDeploymentWorkflowStartsWithAReadableSummary() {
    var spec =
        new DeploymentSpec(
            "support-bot",
            "meta-llama/Llama-3.1-8B-Instruct",
            Framework.VLLM,
            new GpuSpec("H100", 2, List.of()),
            1,
            4,
            16,
            300,
            60,
            20,
            List.of(),
            List.of());
    new TemporalDeploymentOrchestrator(env.getWorkflowClient())
        .start(DeploymentWorkflowInput.fresh("dep_summary1", "acme", spec, "secret-ref-1"));

    var description =
        env.getWorkflowClient()
            .newUntypedWorkflowStub(DeploymentWorkflow.workflowId("dep_summary1"))
            .describe();
    assertThat(description.getStaticSummary())
        .isEqualTo("Deployment support-bot: meta-llama/Llama-3.1-8B-Instruct on vllm, 2 × H100");
    assertThat(description.getStaticDetails())
        .contains("`dep_summary1`", "`acme`", "workers: 1 to 4, concurrency 16")
        .doesNotContain("secret-ref-1");
  }

  @Test
  void aJobWorkflowStartsWithItsIdsAsSummary() {
    new TemporalJobEngine(env.getWorkflowClient())
        .start(new JobWorkflowInput("req_abc", "dep_summary2", "acme", 3600));

    var description =
        env.getWorkflowClient()
            .newUntypedWorkflowStub(JobWorkflow.workflowId("req_abc"))
            .describe();
    assertThat(description.getStaticSummary())
        .isEqualTo("Async job req_abc for deployment dep_summary2");
    assertThat(description.getStaticDetails()).contains("`acme`", "3600 s");
  }
}
