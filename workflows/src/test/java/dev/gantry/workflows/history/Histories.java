package dev.gantry.workflows.history;

import io.temporal.api.enums.v1.EventType;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reading recorded histories. */
final class Histories {
  /** The marker {@code Workflow.getVersion} records, and its detail keys. */
  private static final String VERSION_MARKER = "Version";

  private static final DataConverter CONVERTER = DefaultDataConverter.newDefaultInstance();

  private Histories() {}

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
