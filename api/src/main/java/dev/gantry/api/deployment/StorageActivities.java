package dev.gantry.api.deployment;

import io.temporal.activity.ActivityInterface;

/** Creates and removes a deployment's persistent model storage. Both are idempotent. */
@ActivityInterface
public interface StorageActivities {

  StorageInfo createStorage(StorageRequest request);

  void removeStorage(StorageRequest request);

  record StorageRequest(String deploymentId, int sizeGb) {}

  /** Where the storage lives, in the runtime's terms (a directory, a PVC name). */
  record StorageInfo(String location) {}
}
