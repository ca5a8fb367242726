package dev.gantry.infra.runtime;

import dev.gantry.api.FailureType;

/** A runtime operation failed; {@link #type()} says whether retrying can help. */
public class WorkerRuntimeException extends RuntimeException {
  private final FailureType type;

  public WorkerRuntimeException(FailureType type, String message) {
    super(message);
    this.type = type;
  }

  public WorkerRuntimeException(FailureType type, String message, Throwable cause) {
    super(message, cause);
    this.type = type;
  }

  public FailureType type() {
    return type;
  }
}
