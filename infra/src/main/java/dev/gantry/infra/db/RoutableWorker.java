package dev.gantry.infra.db;

import dev.gantry.api.worker.WorkerStatus;

/** A current worker: only {@code healthy} ones with an endpoint take requests. */
public record RoutableWorker(String id, WorkerStatus status, String endpoint) {

  public boolean routable() {
    return status == WorkerStatus.HEALTHY && endpoint != null;
  }
}
