package dev.gantry.activities.deployment;

import dev.gantry.api.deployment.StorageActivities;
import dev.gantry.infra.storage.LocalStorage;
import org.springframework.stereotype.Component;

/** Storage on the local runtime: a directory per deployment. Both operations are idempotent. */
@Component("storageActivities")
public class StorageActivitiesImpl implements StorageActivities {
  private final LocalStorage storage;

  public StorageActivitiesImpl(LocalStorage storage) {
    this.storage = storage;
  }

  @Override
  public StorageInfo createStorage(StorageRequest request) {
    return new StorageInfo(storage.create(request.deploymentId()).toString());
  }

  @Override
  public void removeStorage(StorageRequest request) {
    storage.remove(request.deploymentId());
  }
}
