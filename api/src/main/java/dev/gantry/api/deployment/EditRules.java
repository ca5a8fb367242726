package dev.gantry.api.deployment;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The rules of an edit of a running deployment, written once: which fields may change, the range of
 * each, and the states that allow an edit. The management API's validator and service and the
 * deployment workflow's update validator all ask here, so they cannot disagree. Pure and
 * deterministic (workflow code calls it); messages are the API's (docs/api.md, "PATCH").
 */
public final class EditRules {

  /** The fields an edit may give, as the API names them, in the order errors are listed. */
  public static final List<String> EDITABLE_FIELDS =
      List.of("name", "idle_timeout_seconds", "wait_time_seconds");

  public static final int MAX_NAME_LENGTH = 100;

  /** The error of an edit that gives no field at all. */
  public static final String NOTHING_TO_CHANGE =
      "must change name, idle_timeout_seconds or wait_time_seconds";

  private EditRules() {}

  /**
   * The upper bounds of the timeouts, from the platform's configuration ({@code gantry.limits.*}).
   * The workflow cannot read configuration deterministically and checks with {@link #NONE}: the API
   * has checked the configured bounds before the edit reaches it.
   */
  public record Bounds(int maxIdleTimeoutSeconds, int maxWaitTimeSeconds) {
    public static final Bounds NONE = new Bounds(Integer.MAX_VALUE, Integer.MAX_VALUE);
  }

  /** One field that breaks a rule, with a message that names no value. */
  public record Violation(String field, String message) {

    /** The field and the message as one phrase, e.g. {@code idle_timeout_seconds must be ...}. */
    public String describe() {
      return field + " " + message;
    }
  }

  /** The given fields that an edit cannot change, sorted; empty when all may change. */
  public static List<String> notEditable(Collection<String> fields) {
    return fields.stream().filter(f -> !EDITABLE_FIELDS.contains(f)).sorted().toList();
  }

  /** What to tell a user whose edit gives fields that cannot change ({@link #notEditable}). */
  public static String notEditableMessage(List<String> fields) {
    return "Only name, idle_timeout_seconds and wait_time_seconds can change on a running"
        + " deployment; to change "
        + String.join(", ", fields)
        + ", create a new deployment.";
  }

  /**
   * Every field of the edit that breaks its rule, in {@link #EDITABLE_FIELDS} order; empty when the
   * edit is valid. A field the edit does not give (null) breaks none. The name is checked as given,
   * before {@link #normalized} strips it.
   */
  public static List<Violation> violations(EditRequest edit, Bounds bounds) {
    var found = new ArrayList<Violation>();
    nameViolation(edit.name()).ifPresent(m -> found.add(new Violation("name", m)));
    rangeViolation(edit.idleTimeoutSeconds(), bounds.maxIdleTimeoutSeconds())
        .ifPresent(m -> found.add(new Violation("idle_timeout_seconds", m)));
    rangeViolation(edit.waitTimeSeconds(), bounds.maxWaitTimeSeconds())
        .ifPresent(m -> found.add(new Violation("wait_time_seconds", m)));
    return List.copyOf(found);
  }

  /** The edit as it is applied: the name without surrounding blanks. */
  public static EditRequest normalized(EditRequest edit) {
    return edit.name() == null
        ? edit
        : new EditRequest(edit.name().strip(), edit.idleTimeoutSeconds(), edit.waitTimeSeconds());
  }

  /**
   * Why a deployment in this state cannot be edited, or empty when it can: only a {@code running}
   * one whose deletion was not asked for.
   *
   * @param deletionRequested the deletion was asked for, though the status may not say so yet
   */
  public static Optional<String> refusal(DeploymentStatus status, boolean deletionRequested) {
    if (status == DeploymentStatus.RUNNING && !deletionRequested) {
      return Optional.empty();
    }
    var shown = deletionRequested && !status.goingAway() ? DeploymentStatus.DELETING : status;
    return Optional.of(
        "Only a running deployment can be edited; this one is " + shown.wireName() + ".");
  }

  private static Optional<String> nameViolation(String name) {
    if (name == null) {
      return Optional.empty();
    }
    if (name.isBlank()) {
      return Optional.of("must not be blank");
    }
    if (name.length() > MAX_NAME_LENGTH) {
      return Optional.of("must be at most " + MAX_NAME_LENGTH + " characters");
    }
    if (name.chars().anyMatch(Character::isISOControl)) {
      return Optional.of("must not contain control characters");
    }
    return Optional.empty();
  }

  private static Optional<String> rangeViolation(Integer value, int max) {
    if (value == null || value >= 1 && value <= max) {
      return Optional.empty();
    }
    return Optional.of(
        max == Integer.MAX_VALUE ? "must be positive" : "must be between 1 and " + max);
  }
}
