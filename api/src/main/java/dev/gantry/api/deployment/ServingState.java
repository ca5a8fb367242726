package dev.gantry.api.deployment;

import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.autoscaler.Autoscaler;
import java.util.List;

/**
 * What a running deployment's workflow carries across continue-as-new.
 *
 * @param workers current workers (provisioning, healthy or draining), by ordinal
 * @param nextOrdinal the next worker's ordinal; ordinals only grow, so worker ids are never reused
 * @param wanted how many live workers the autoscaler wants, within [min, max]
 * @param consecutiveFailures workers that failed in a row; drives the replacement backoff
 * @param notBeforeEpochMillis no worker is started before this time (backoff)
 * @param scaleUpBlockedReason why the last scale-up was refused, while it still applies
 * @param scaleUpBlockedOrdinal the refused worker; a later one becoming healthy clears the reason
 * @param lastFailureReason the last worker failure, shown while failures repeat
 * @param autoscaler the autoscaler's memory (recent peaks, cold starts); null in states carried by
 *     runs from before it existed
 */
public record ServingState(
    DeploymentStatus status,
    String statusReason,
    List<WorkerSlot> workers,
    int nextOrdinal,
    int wanted,
    int consecutiveFailures,
    long notBeforeEpochMillis,
    String scaleUpBlockedReason,
    int scaleUpBlockedOrdinal,
    String lastFailureReason,
    Autoscaler autoscaler) {

  public ServingState {
    workers = workers == null ? List.of() : List.copyOf(workers);
  }

  /** A state without the autoscaler's memory, as runs before it carried. */
  public ServingState(
      DeploymentStatus status,
      String statusReason,
      List<WorkerSlot> workers,
      int nextOrdinal,
      int wanted,
      int consecutiveFailures,
      long notBeforeEpochMillis,
      String scaleUpBlockedReason,
      int scaleUpBlockedOrdinal,
      String lastFailureReason) {
    this(
        status,
        statusReason,
        workers,
        nextOrdinal,
        wanted,
        consecutiveFailures,
        notBeforeEpochMillis,
        scaleUpBlockedReason,
        scaleUpBlockedOrdinal,
        lastFailureReason,
        null);
  }

  /** One current worker as the deployment tracks it. */
  public record WorkerSlot(int ordinal, WorkerStatus status, boolean keepWarm) {}
}
