package dev.gantry.api.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.api.deployment.ModelActivities.PrepareModelInput;
import dev.gantry.api.worker.WorkerActivities.StartWorkerInput;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The inputs that carry a deployment's {@link EngineIdentity}, through Temporal's data converter:
 * payloads recorded before it was one value (copied from {@code
 * workflows/src/test/resources/histories}) still read, and the new shape nests it as {@code
 * engine}.
 */
class EngineIdentityJsonTest {
  private static final DataConverter CONVERTER = DefaultDataConverter.newDefaultInstance();

  private static final EngineIdentity VLLM =
      new EngineIdentity(
          Framework.VLLM,
          "org/model",
          new GpuSpec("L4", 1, List.of()),
          List.of("--max-model-len=4096"),
          "sec_1");

  private static <T> T read(String json, Class<T> type) {
    var payload =
        Payload.newBuilder()
            .putMetadata("encoding", com.google.protobuf.ByteString.copyFromUtf8("json/plain"))
            .setData(com.google.protobuf.ByteString.copyFromUtf8(json))
            .build();
    return CONVERTER.fromPayload(payload, type, type);
  }

  private static String write(Object value) {
    return CONVERTER.toPayload(value).orElseThrow().getData().toString(StandardCharsets.UTF_8);
  }

  @Test
  void anOldWorkerWorkflowInputReadsWithItsEngine() {
    // deployment/continue-as-new-run1.json, the child it starts
    var input =
        read(
            """
            {"deploymentId":"dep_history","ordinal":1,"framework":"sim","model":"tiny",\
            "gpu":null,"frameworkArgs":[],"secretRef":null,"settings":{"idleTimeoutSeconds":3600,\
            "keepWarm":true},"serving":null}""",
            WorkerWorkflowInput.class);
    assertThat(input)
        .isEqualTo(
            WorkerWorkflowInput.fresh(
                "dep_history",
                1,
                new EngineIdentity(Framework.SIM, "tiny", null, List.of(), null),
                new WorkerSettings(3600, true)));
  }

  @Test
  void anOldContinuedWorkerInputKeepsWhatItServes() {
    // worker/continued-run-idle-reaped.json, with a GPU, args and a secret as vLLM's would have
    var input =
        read(
            """
            {"deploymentId":"dep_history","ordinal":1,"framework":"vllm","model":"org/model",\
            "gpu":{"type":"L4","count":1,"fallbackTypes":[]},\
            "frameworkArgs":["--max-model-len=4096"],"secretRef":"sec_1",\
            "settings":{"idleTimeoutSeconds":60,"keepWarm":false},\
            "serving":{"endpoint":"http://127.0.0.1:9000/dep_history-w1","gpuType":"L4",\
            "gpuCount":1,"lastActiveEpochMillis":1767225603957}}""",
            WorkerWorkflowInput.class);
    assertThat(input.engine()).isEqualTo(VLLM);
    assertThat(input.start())
        .isEqualTo(
            new WorkerWorkflowInput.StartMode.Continued(
                new WorkerWorkflowInput.Serving(
                    "http://127.0.0.1:9000/dep_history-w1", "L4", 1, 1767225603957L)));
  }

  @Test
  void theNewWorkerWorkflowInputNestsTheEngineAndSaysHowItStarts() {
    var input = WorkerWorkflowInput.fresh("dep_a", 2, VLLM, new WorkerSettings(60, false));
    String json = write(input);
    assertThat(json)
        .isEqualTo(
            "{\"deploymentId\":\"dep_a\",\"ordinal\":2,\"engine\":{\"framework\":\"vllm\","
                + "\"model\":\"org/model\",\"gpu\":{\"type\":\"L4\",\"count\":1,"
                + "\"fallbackTypes\":[]},\"frameworkArgs\":[\"--max-model-len=4096\"],"
                + "\"secretRef\":\"sec_1\"},\"settings\":{\"idleTimeoutSeconds\":60,"
                + "\"keepWarm\":false},\"start\":{\"mode\":\"fresh\"}}");
    assertThat(read(json, WorkerWorkflowInput.class)).isEqualTo(input);
    var continued =
        input.continued(
            new WorkerSettings(30, true), new WorkerWorkflowInput.Serving("http://w", "L4", 1, 5));
    assertThat(write(continued))
        .endsWith(
            "\"start\":{\"mode\":\"continued\",\"serving\":{\"endpoint\":\"http://w\","
                + "\"gpuType\":\"L4\",\"gpuCount\":1,\"lastActiveEpochMillis\":5}}}");
    assertThat(read(write(continued), WorkerWorkflowInput.class)).isEqualTo(continued);
  }

  @Test
  void anOldStartWorkerInputReadsWithItsEngine() {
    // worker/deployment-not-found-default-version.json
    var input =
        read(
            """
            {"deploymentId":"dep_history","ordinal":1,"framework":"sim","model":"tiny",\
            "gpu":null,"frameworkArgs":[],"secretRef":null}""",
            StartWorkerInput.class);
    assertThat(input)
        .isEqualTo(
            new StartWorkerInput(
                "dep_history",
                1,
                new EngineIdentity(Framework.SIM, "tiny", null, List.of(), null)));
    var typed = new StartWorkerInput("dep_a", 3, VLLM);
    assertThat(write(typed))
        .isEqualTo("{\"deploymentId\":\"dep_a\",\"ordinal\":3,\"engine\":" + write(VLLM) + "}");
    assertThat(read(write(typed), StartWorkerInput.class)).isEqualTo(typed);
  }

  @Test
  void aStartCarriesTheDeploymentsDecisionAndOneWithoutItReadsAsUnknown() {
    var decided = new StartWorkerInput("dep_a", 3, VLLM, 1_767_225_600_250L);
    assertThat(write(decided)).endsWith(",\"decidedAtEpochMillis\":1767225600250}");
    assertThat(read(write(decided), StartWorkerInput.class)).isEqualTo(decided);
    assertThat(
            read(write(new StartWorkerInput("dep_a", 3, VLLM)), StartWorkerInput.class)
                .decidedAtEpochMillis())
        .isZero();
  }

  @Test
  void anOldPrepareModelInputReadsWithItsEngine() {
    // deployment/continue-as-new-run1.json; older ones had no storageGb (0: read from the row)
    var input =
        read(
            """
            {"deploymentId":"dep_history","framework":"vllm","model":"org/model",\
            "storageLocation":"/data/storage/dep_history","secretRef":"sec_1","storageGb":5}""",
            PrepareModelInput.class);
    assertThat(input)
        .isEqualTo(
            new PrepareModelInput(
                "dep_history",
                new EngineIdentity(Framework.VLLM, "org/model", null, List.of(), "sec_1"),
                "/data/storage/dep_history",
                5));
    var before =
        read(
            """
            {"deploymentId":"dep_history","framework":"sim","model":"tiny",\
            "storageLocation":"/data/storage/dep_history","secretRef":null}""",
            PrepareModelInput.class);
    assertThat(before.storageGb()).isZero();
    assertThat(before.engine().framework()).isEqualTo(Framework.SIM);

    var typed = new PrepareModelInput("dep_a", VLLM, "/data/storage/dep_a", 5);
    assertThat(write(typed))
        .isEqualTo(
            "{\"deploymentId\":\"dep_a\",\"engine\":"
                + write(VLLM)
                + ",\"storageLocation\":\"/data/storage/dep_a\",\"storageGb\":5}");
    assertThat(read(write(typed), PrepareModelInput.class)).isEqualTo(typed);
  }
}
