package dev.gantry.workflows.history;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.DeploymentWorkflowInput;
import dev.gantry.api.deployment.DeploymentWorkflowInput.StartMode;
import dev.gantry.api.deployment.ModelActivities.PrepareModelInput;
import dev.gantry.api.worker.WorkerActivities.StartWorkerInput;
import dev.gantry.api.worker.WorkerWorkflowInput;
import io.temporal.api.common.v1.Payloads;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every recorded input of a deployment's or a worker's workflow, and of the activities that carry
 * the engine identity, still reads as what it said. Replay alone does not show this for activity
 * inputs (replay does not read them, but an activity scheduled before an upgrade runs after it),
 * nor that a flat input of the version before the typed start modes and the engine identity means
 * the same in the new types: here each input is read into today's type, written back in the shape
 * it was recorded in (the flat one for an old input: {@code recoveredStatus}, {@code
 * recoveredReason}, {@code nextWorkerOrdinal} and {@code serving} for the start mode, the engine's
 * fields beside the others), and must carry every recorded field with its recorded value.
 */
class RecordedInputsTest {
  private static final DataConverter CONVERTER = DefaultDataConverter.newDefaultInstance();

  /** The types whose inputs are read, by workflow or activity type name. */
  private static final Map<String, Class<?>> INPUTS =
      Map.of(
          "DeploymentWorkflow", DeploymentWorkflowInput.class,
          "WorkerWorkflow", WorkerWorkflowInput.class,
          "StartWorker", StartWorkerInput.class,
          "PrepareModel", PrepareModelInput.class);

  static Stream<Named<Path>> histories() throws Exception {
    return HistoryReplayTest.histories();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("histories")
  void everyRecordedInputReadsAsWhatItSaid(Path file) throws Exception {
    var history = WorkflowExecutionHistory.fromJson(Files.readString(file));
    int checked = 0;
    for (var e : history.getEvents()) {
      String type;
      Payloads input;
      switch (e.getEventType()) {
        case EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> {
          var a = e.getWorkflowExecutionStartedEventAttributes();
          type = a.getWorkflowType().getName();
          input = a.getInput();
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW -> {
          var a = e.getWorkflowExecutionContinuedAsNewEventAttributes();
          type = a.getWorkflowType().getName();
          input = a.getInput();
        }
        case EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED -> {
          var a = e.getStartChildWorkflowExecutionInitiatedEventAttributes();
          type = a.getWorkflowType().getName();
          input = a.getInput();
        }
        case EVENT_TYPE_ACTIVITY_TASK_SCHEDULED -> {
          var a = e.getActivityTaskScheduledEventAttributes();
          type = a.getActivityType().getName();
          input = a.getInput();
        }
        default -> {
          continue;
        }
      }
      if (!INPUTS.containsKey(type)) {
        continue;
      }
      var recorded = read(input, JsonNode.class);
      Object value;
      try {
        value = read(input, INPUTS.get(type));
      } catch (RuntimeException failure) {
        throw new AssertionError(
            "%s: the %s input of event %d no longer reads: %s"
                .formatted(file.getFileName(), type, e.getEventId(), recorded),
            failure);
      }
      var now = inRecordedShape(value, recorded);
      assertThat(HistoryReplayTest.contains(now, recorded))
          .as(
              "%s: the %s input of event %d reads as %s; written back: %s; recorded: %s",
              file.getFileName(), type, e.getEventId(), value, now, recorded)
          .isTrue();
      checked++;
    }
    if (!file.getParent().getFileName().toString().equals("job")) {
      assertThat(checked).as(file + ": inputs checked").isPositive();
    }
  }

  private static <T> T read(Payloads input, Class<T> type) {
    return CONVERTER.fromPayloads(0, Optional.of(input), type, type);
  }

  private static ObjectNode json(Object value) {
    return (ObjectNode)
        CONVERTER.fromPayloads(0, CONVERTER.toPayloads(value), JsonNode.class, JsonNode.class);
  }

  /**
   * The value written as today's code writes it, or, for an input recorded in the flat shape of the
   * version before, as that version wrote what it means.
   */
  private static JsonNode inRecordedShape(Object value, JsonNode recorded) {
    var now = json(value);
    if (value instanceof DeploymentWorkflowInput input && !recorded.has("start")) {
      now.remove("start");
      now.set("recoveredStatus", NullNode.getInstance());
      now.set("recoveredReason", NullNode.getInstance());
      now.set("serving", NullNode.getInstance());
      now.set("nextWorkerOrdinal", IntNode.valueOf(input.nextWorkerOrdinal()));
      switch (input.start()) {
        case StartMode.Fresh fresh -> {}
        case StartMode.Recovered r -> {
          // A deployment recovered while starting was sent without its status.
          if (r.status() != DeploymentStatus.STARTING) {
            now.set("recoveredStatus", TextNode.valueOf(r.status().wireName()));
          }
          now.set(
              "recoveredReason",
              r.reason() == null ? NullNode.getInstance() : TextNode.valueOf(r.reason()));
        }
        case StartMode.Continued c -> now.set("serving", json(c.serving()));
      }
    } else if (now.has("engine") && !recorded.has("engine")) {
      var engine = (ObjectNode) now.remove("engine");
      now.setAll(engine);
      if (value instanceof WorkerWorkflowInput input) {
        now.remove("start");
        now.set(
            "serving",
            input.start() instanceof WorkerWorkflowInput.StartMode.Continued c
                ? json(c.serving())
                : NullNode.getInstance());
      }
    }
    return now;
  }
}
