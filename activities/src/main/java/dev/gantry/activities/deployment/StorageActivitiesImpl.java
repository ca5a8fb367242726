package dev.gantry.activities.deployment;

import dev.gantry.api.deployment.StorageActivities;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.storage.DeploymentStorage;
import org.springframework.stereotype.Component;

/**
 * A deployment's storage over the runtime's {@link DeploymentStorage} (a directory per deployment
 * on the local runtime, a claim on Kubernetes). Both operations are idempotent.
 */
@Component("storageActivities")
public class StorageActivitiesImpl implements StorageActivities {
  private final DeploymentStorage storage;
  private final WorkerRuntime runtime;

  public StorageActivitiesImpl(DeploymentStorage storage, WorkerRuntime runtime) {
    this.storage = storage;
    this.runtime = runtime;
  }

  @Override
  public StorageInfo createStorage(StorageRequest request) {
    return new StorageInfo(storage.create(request.deploymentId(), request.sizeGb()));
  }

  @Override
  public void removeStorage(StorageRequest request) {
    runtime.reclaimStorage(request.deploymentId(), storage.pathOf(request.deploymentId()));
    storage.remove(request.deploymentId());
    // Workers have stopped by now (deletion drains them first); their logs go with the storage.
    runtime.removeLogs(request.deploymentId());
  }
}
