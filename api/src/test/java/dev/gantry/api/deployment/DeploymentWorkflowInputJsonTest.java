package dev.gantry.api.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentWorkflowInput.StartMode;
import dev.gantry.api.deployment.ServingState.WorkerSlot;
import dev.gantry.api.worker.WorkerStatus;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@link DeploymentWorkflowInput} through Temporal's own data converter: inputs recorded before the
 * start mode had a type (copied from {@code workflows/src/test/resources/histories}) read as the
 * mode their nullable fields meant, and the typed shape round-trips.
 */
class DeploymentWorkflowInputJsonTest {
  static final DataConverter CONVERTER = DefaultDataConverter.newDefaultInstance();

  private static final String SPEC =
      """
      {"name":"chat","model":"tiny","framework":"sim","gpu":null,"minWorkers":1,"maxWorkers":2,\
      "concurrency":8,"idleTimeoutSeconds":60,"waitTimeSeconds":60,"storageGb":5,"envNames":[],\
      "frameworkArgs":[]}""";

  /** {@code deployment/provision-then-delete.json}, spec shortened to {@link #SPEC}. */
  private static final String OLD_FRESH =
      """
      {"deploymentId":"dep_history","tenantId":"t1","spec":%s,"secretRef":null,\
      "recoveredStatus":null,"recoveredReason":null,"nextWorkerOrdinal":1,"serving":null,\
      "historyLimit":0}"""
          .formatted(SPEC);

  /** {@code deployment/recovered-running-then-delete.json}. */
  private static final String OLD_RECOVERED_RUNNING =
      """
      {"deploymentId":"dep_history","tenantId":"t1","spec":%s,"secretRef":null,\
      "recoveredStatus":"running","recoveredReason":null,"nextWorkerOrdinal":7,"serving":null,\
      "historyLimit":0}"""
          .formatted(SPEC);

  /** {@code deployment/recovered-failed-then-delete.json}. */
  private static final String OLD_RECOVERED_CLEANING =
      """
      {"deploymentId":"dep_history","tenantId":"t1","spec":%s,"secretRef":null,\
      "recoveredStatus":"cleaning","recoveredReason":"model download failed: add an HF_TOKEN with\
       access","nextWorkerOrdinal":1,"serving":null,"historyLimit":0}"""
          .formatted(SPEC);

  /** {@code deployment/continue-as-new-run2.json}: the input of a run continued as new. */
  private static final String OLD_CONTINUED =
      """
      {"deploymentId":"dep_history","tenantId":"t1","spec":%s,"secretRef":null,\
      "recoveredStatus":null,"recoveredReason":null,"nextWorkerOrdinal":2,"serving":{\
      "status":"running","statusReason":null,"workers":[{"ordinal":1,"status":"healthy",\
      "keepWarm":true}],"nextOrdinal":2,"wanted":1,"consecutiveFailures":0,\
      "notBeforeEpochMillis":0,"scaleUpBlockedReason":null,"scaleUpBlockedOrdinal":0,\
      "lastFailureReason":null},"historyLimit":80}"""
          .formatted(SPEC);

  static <T> T read(String json, Class<T> type) {
    var payload =
        Payload.newBuilder()
            .putMetadata("encoding", com.google.protobuf.ByteString.copyFromUtf8("json/plain"))
            .setData(com.google.protobuf.ByteString.copyFromUtf8(json))
            .build();
    return CONVERTER.fromPayload(payload, type, type);
  }

  static String write(Object value) {
    return CONVERTER.toPayload(value).orElseThrow().getData().toString(StandardCharsets.UTF_8);
  }

  /** The top-level property names of a JSON object, in order (enough for these flat checks). */
  static List<String> topLevelKeys(String json) {
    var keys = new java.util.ArrayList<String>();
    int depth = 0;
    Matcher m = Pattern.compile("[{}\\[\\]]|\"((?:[^\"\\\\]|\\\\.)*)\"(\\s*:)?").matcher(json);
    while (m.find()) {
      switch (m.group()) {
        case "{", "[" -> depth++;
        case "}", "]" -> depth--;
        default -> {
          if (depth == 1 && m.group(2) != null) {
            keys.add(m.group(1));
          }
        }
      }
    }
    return keys;
  }

  @Test
  void anOldFreshInputReadsAsAFreshStart() {
    var input = read(OLD_FRESH, DeploymentWorkflowInput.class);
    assertThat(input.start()).isEqualTo(new StartMode.Fresh());
    assertThat(input.deploymentId()).isEqualTo("dep_history");
    assertThat(input.tenantId()).isEqualTo("t1");
    assertThat(input.spec().framework()).isEqualTo(Framework.SIM);
    assertThat(input.spec().minWorkers()).isEqualTo(1);
    assertThat(input.secretRef()).isNull();
    assertThat(input.historyLimit()).isZero();
    assertThat(input.nextWorkerOrdinal()).isEqualTo(1);
  }

  @Test
  void anOldRecoveredInputReadsAsRecoveredWithItsStatusReasonAndOrdinal() {
    var running = read(OLD_RECOVERED_RUNNING, DeploymentWorkflowInput.class);
    assertThat(running.start())
        .isEqualTo(new StartMode.Recovered(DeploymentStatus.RUNNING, null, 7));
    assertThat(running.nextWorkerOrdinal()).isEqualTo(7);

    var cleaning = read(OLD_RECOVERED_CLEANING, DeploymentWorkflowInput.class);
    assertThat(cleaning.start())
        .isEqualTo(
            new StartMode.Recovered(
                DeploymentStatus.CLEANING,
                "model download failed: add an HF_TOKEN with access",
                1));
  }

  @Test
  void anOldInputOfADeploymentRecoveredWhileStartingKeepsItsOrdinals() {
    // The reconciler sent a deployment still `starting` without a status but with its ordinals.
    var input =
        read(
            OLD_FRESH.replace("\"nextWorkerOrdinal\":1", "\"nextWorkerOrdinal\":4"),
            DeploymentWorkflowInput.class);
    assertThat(input.start())
        .isEqualTo(new StartMode.Recovered(DeploymentStatus.STARTING, null, 4));
    assertThat(input.nextWorkerOrdinal()).isEqualTo(4);
  }

  @Test
  void anOldContinuedInputReadsAsContinuedWithItsServingState() {
    var input = read(OLD_CONTINUED, DeploymentWorkflowInput.class);
    var continued = (StartMode.Continued) input.start();
    assertThat(continued.serving().status()).isEqualTo(DeploymentStatus.RUNNING);
    assertThat(continued.serving().workers())
        .containsExactly(new WorkerSlot(1, WorkerStatus.HEALTHY, true));
    assertThat(continued.serving().wanted()).isEqualTo(1);
    assertThat(input.nextWorkerOrdinal()).isEqualTo(2);
    assertThat(input.historyLimit()).isEqualTo(80);
  }

  @Test
  void anOldInputContinuesAsNewIntoTheTypedShape() {
    var old = read(OLD_CONTINUED, DeploymentWorkflowInput.class);
    var serving = ((StartMode.Continued) old.start()).serving();
    var next = old.continued(old.spec().withEdit("renamed", 30, 60), serving);

    String json = write(next);
    assertThat(topLevelKeys(json))
        .containsExactly("deploymentId", "tenantId", "spec", "secretRef", "start", "historyLimit");
    assertThat(json).contains("\"start\":{\"mode\":\"continued\",\"serving\":{");
    assertThat(read(json, DeploymentWorkflowInput.class)).isEqualTo(next);
  }

  @Test
  void everyStartModeRoundTripsInTheTypedShape() {
    var spec = read(SPEC, DeploymentSpec.class);
    var serving =
        new ServingState(
            DeploymentStatus.RUNNING,
            null,
            List.of(new WorkerSlot(3, WorkerStatus.HEALTHY, true)),
            4,
            1,
            0,
            0,
            null,
            0,
            null);
    var inputs =
        List.of(
            DeploymentWorkflowInput.fresh("dep_a", "t1", spec, "sec_1"),
            DeploymentWorkflowInput.recovered(
                "dep_a", "t1", spec, "sec_1", DeploymentStatus.FAILED, "model download failed", 3),
            DeploymentWorkflowInput.fresh("dep_a", "t1", spec, null)
                .withHistoryLimit(40)
                .continued(spec, serving));
    var modes = List.of("fresh", "recovered", "continued");
    for (int i = 0; i < inputs.size(); i++) {
      String json = write(inputs.get(i));
      assertThat(json).contains("\"start\":{\"mode\":\"" + modes.get(i) + "\"");
      assertThat(topLevelKeys(json))
          .containsExactly(
              "deploymentId", "tenantId", "spec", "secretRef", "start", "historyLimit");
      assertThat(read(json, DeploymentWorkflowInput.class)).isEqualTo(inputs.get(i));
    }
    assertThat(write(inputs.get(1)))
        .contains(
            "\"start\":{\"mode\":\"recovered\",\"status\":\"failed\","
                + "\"reason\":\"model download failed\",\"nextWorkerOrdinal\":3}");
    assertThat(inputs.get(2).nextWorkerOrdinal()).isEqualTo(4);
  }

  @Test
  void aTypedStartWinsOverStrayOldFields() {
    String json =
        write(DeploymentWorkflowInput.fresh("dep_a", "t1", read(SPEC, DeploymentSpec.class), null))
            .replace("\"historyLimit\"", "\"recoveredStatus\":\"deleting\",\"historyLimit\"");
    assertThat(read(json, DeploymentWorkflowInput.class).start()).isEqualTo(new StartMode.Fresh());
  }

  @Test
  void theEngineIdentityComesFromTheSpecAndTheSecretRef() {
    var spec =
        new DeploymentSpec(
            "chat",
            "org/model",
            Framework.VLLM,
            new GpuSpec("L4", 1, List.of("A10G")),
            0,
            1,
            8,
            60,
            60,
            5,
            List.of("HF_TOKEN"),
            List.of("--max-model-len=4096"));
    assertThat(spec.engine("sec_1"))
        .isEqualTo(
            new EngineIdentity(
                Framework.VLLM,
                "org/model",
                new GpuSpec("L4", 1, List.of("A10G")),
                List.of("--max-model-len=4096"),
                "sec_1"));
    // A method, not a property: specs stored and recorded keep their shape.
    assertThat(write(spec)).doesNotContain("engine");
    assertThat(read(write(spec), DeploymentSpec.class)).isEqualTo(spec);
  }
}
