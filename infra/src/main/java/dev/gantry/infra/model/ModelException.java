package dev.gantry.infra.model;

import dev.gantry.api.FailureType;

/**
 * A model could not be put into storage. The message is shown to the user as the deployment's
 * {@code status_reason}: it says what to do, and never carries a token or other secret.
 */
public class ModelException extends RuntimeException {
  private final FailureType type;

  public ModelException(FailureType type, String message) {
    super(message);
    this.type = type;
  }

  public ModelException(FailureType type, String message, Throwable cause) {
    super(message, cause);
    this.type = type;
  }

  public FailureType type() {
    return type;
  }

  public boolean permanent() {
    return type.permanent();
  }
}
