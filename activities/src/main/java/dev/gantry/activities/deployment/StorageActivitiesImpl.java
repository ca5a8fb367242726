package dev.gantry.activities.deployment;

import dev.gantry.api.deployment.StorageActivities;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.storage.LocalStorage;
import org.springframework.stereotype.Component;

/** Storage on the local runtime: a directory per deployment. Both operations are idempotent. */
@Component("storageActivities")
public class StorageActivitiesImpl implements StorageActivities {
  private final LocalStorage storage;
  private final WorkerRuntime runtime;

  public StorageActivitiesImpl(LocalStorage storage, WorkerRuntime runtime) {
    this.storage = storage;
    this.runtime = runtime;
  }

  @Override
  public StorageInfo createStorage(StorageRequest request) {
    return new StorageInfo(storage.create(request.deploymentId()).toString());
  }

  @Override
  public void removeStorage(StorageRequest request) {
    runtime.reclaimStorage(request.deploymentId(), storage.directoryOf(request.deploymentId()));
    storage.remove(request.deploymentId());
    // Workers have stopped by now (deletion drains them first); their logs go with the storage.
    runtime.removeLogs(request.deploymentId());
  }
}
