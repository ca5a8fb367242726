package dev.gantry.workflows.history;

import com.fasterxml.jackson.databind.JsonNode;
import io.temporal.api.enums.v1.EventType;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;

/** Reading recorded histories. */
final class Histories {
  /** The marker {@code Workflow.getVersion} records. */
  private static final String VERSION_MARKER = "Version";

  private static final DataConverter CONVERTER = DefaultDataConverter.newDefaultInstance();

  private Histories() {}

  /**
   * Whether nothing the workflow started is still under way: no workflow task, activity, child
   * start or outgoing signal without its outcome in the history. Timers may be pending.
   */
  static boolean quiet(WorkflowExecutionHistory history) {
    var open = new HashSet<Long>();
    for (var e : history.getEvents()) {
      switch (e.getEventType()) {
        case EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
            EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED ->
            open.add(e.getEventId());
        case EVENT_TYPE_WORKFLOW_TASK_COMPLETED ->
            open.remove(e.getWorkflowTaskCompletedEventAttributes().getScheduledEventId());
        case EVENT_TYPE_WORKFLOW_TASK_FAILED ->
            open.remove(e.getWorkflowTaskFailedEventAttributes().getScheduledEventId());
        case EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT ->
            open.remove(e.getWorkflowTaskTimedOutEventAttributes().getScheduledEventId());
        case EVENT_TYPE_ACTIVITY_TASK_COMPLETED ->
            open.remove(e.getActivityTaskCompletedEventAttributes().getScheduledEventId());
        case EVENT_TYPE_ACTIVITY_TASK_FAILED ->
            open.remove(e.getActivityTaskFailedEventAttributes().getScheduledEventId());
        case EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT ->
            open.remove(e.getActivityTaskTimedOutEventAttributes().getScheduledEventId());
        case EVENT_TYPE_ACTIVITY_TASK_CANCELED ->
            open.remove(e.getActivityTaskCanceledEventAttributes().getScheduledEventId());
        case EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED ->
            open.remove(e.getChildWorkflowExecutionStartedEventAttributes().getInitiatedEventId());
        case EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED ->
            open.remove(
                e.getStartChildWorkflowExecutionFailedEventAttributes().getInitiatedEventId());
        case EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED ->
            open.remove(
                e.getExternalWorkflowExecutionSignaledEventAttributes().getInitiatedEventId());
        case EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED ->
            open.remove(
                e.getSignalExternalWorkflowExecutionFailedEventAttributes().getInitiatedEventId());
        default -> {}
      }
    }
    return open.isEmpty();
  }

  /** The input the run was started with, as JSON. */
  static JsonNode startInput(WorkflowExecutionHistory history) {
    var input =
        history.getEvents().getFirst().getWorkflowExecutionStartedEventAttributes().getInput();
    return CONVERTER.fromPayloads(0, Optional.of(input), JsonNode.class, JsonNode.class);
  }

  /** The {@code Workflow.getVersion} decisions a history recorded, as {@code changeId@version}. */
  static List<String> versionMarkers(WorkflowExecutionHistory history) {
    var versions = new ArrayList<String>();
    for (var event : history.getEvents()) {
      if (event.getEventType() != EventType.EVENT_TYPE_MARKER_RECORDED) {
        continue;
      }
      var marker = event.getMarkerRecordedEventAttributes();
      if (!marker.getMarkerName().equals(VERSION_MARKER)) {
        continue;
      }
      var details = marker.getDetailsMap();
      String changeId =
          CONVERTER.fromPayloads(
              0, Optional.ofNullable(details.get("changeId")), String.class, String.class);
      Integer version =
          CONVERTER.fromPayloads(
              0, Optional.ofNullable(details.get("version")), Integer.class, Integer.class);
      versions.add(changeId + "@" + version);
    }
    return versions;
  }
}
