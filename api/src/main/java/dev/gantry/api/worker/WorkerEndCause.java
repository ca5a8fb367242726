package dev.gantry.api.worker;

/** Why a worker ended, so the deployment knows whether to replace it. */
public enum WorkerEndCause {
  /** Reaped after its idle timeout: scale-in, never replaced. */
  IDLE,
  /** The deployment asked it to drain (deletion). */
  DRAIN_REQUESTED,
  /** The engine exited, or did not become healthy in time: replaced with backoff when needed. */
  ENGINE_FAILED,
  /** No GPU was free to start it; nothing ran. */
  NO_CAPACITY
}
