package dev.gantry.workflows;

import io.temporal.api.enums.v1.SignalExternalWorkflowExecutionFailedCause;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.SignalExternalWorkflowException;
import io.temporal.workflow.Workflow;

/** Signals between workflows. */
public final class Signals {
  private static final String NOT_FOUND =
      SignalExternalWorkflowExecutionFailedCause
          .SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
          .name();

  /** The change that started treating the SDK's ApplicationFailure form as "not found". */
  static final String NOT_FOUND_CHANGE = "signal-target-not-found";

  private Signals() {}

  /**
   * Whether a signal to another workflow failed because no run of it is open; called in workflow
   * code. The SDK reports that as an {@link ApplicationFailure} of the server's cause (1.38), not
   * only as the documented {@link SignalExternalWorkflowException}; any other failure is not this
   * one. Histories recorded before that form was recognised failed there, and replay as they ran.
   */
  public static boolean targetNotFound(RuntimeException e) {
    if (e instanceof SignalExternalWorkflowException) {
      return true;
    }
    if (!(e instanceof ApplicationFailure failure && NOT_FOUND.equals(failure.getType()))) {
      return false;
    }
    return Workflow.getVersion(NOT_FOUND_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
  }
}
