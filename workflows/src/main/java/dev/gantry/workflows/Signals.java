package dev.gantry.workflows;

import io.temporal.api.enums.v1.SignalExternalWorkflowExecutionFailedCause;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.SignalExternalWorkflowException;

/** Signals between workflows. */
public final class Signals {
  private static final String NOT_FOUND =
      SignalExternalWorkflowExecutionFailedCause
          .SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
          .name();

  private Signals() {}

  /**
   * Whether a signal to another workflow failed because no run of it is open. The SDK reports that
   * as an {@link ApplicationFailure} of the server's cause (1.38), not only as the documented
   * {@link SignalExternalWorkflowException}; any other failure is not this one.
   */
  public static boolean targetNotFound(RuntimeException e) {
    return e instanceof SignalExternalWorkflowException
        || e instanceof ApplicationFailure failure && NOT_FOUND.equals(failure.getType());
  }
}
