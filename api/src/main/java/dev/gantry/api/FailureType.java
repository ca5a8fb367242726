package dev.gantry.api;

/**
 * Why a step failed. The name is used as the Temporal {@code ApplicationFailure} type, so a
 * workflow can tell permanent failures (never retried) from transient ones.
 */
public enum FailureType {
  /** The deployment spec cannot work as given (bad model id for the framework, missing engine). */
  INVALID_SPEC(true),
  /** The model host refused the credentials (gated model without a valid token). */
  MODEL_ACCESS_DENIED(true),
  /** The model or revision does not exist. */
  MODEL_NOT_FOUND(true),
  /** The deployment's storage is too small or the disk is full. */
  STORAGE_FULL(true),
  /** A capability this platform build does not offer yet. */
  UNSUPPORTED(true),
  /** No GPU of the requested type or its fallbacks is free for a new worker. */
  NO_GPU_CAPACITY(true),
  /** The engine's binary is not installed on the host. */
  ENGINE_NOT_FOUND(true),
  /** The engine exited or did not become healthy in time; the deployment decides on a retry. */
  ENGINE_FAILED(true),
  /** Anything transient: network errors, a busy disk. Retried with backoff. */
  TRANSIENT(false);

  private final boolean permanent;

  FailureType(boolean permanent) {
    this.permanent = permanent;
  }

  public boolean permanent() {
    return permanent;
  }
}
