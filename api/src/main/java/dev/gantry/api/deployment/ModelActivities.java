package dev.gantry.api.deployment;

import io.temporal.activity.ActivityInterface;

/** Puts the model into the deployment's storage before any worker starts. */
@ActivityInterface
public interface ModelActivities {

  ModelInfo prepareModel(PrepareModelInput input);

  /** {@code secretRef} lets the activity resolve e.g. HF_TOKEN itself; values never pass here. */
  record PrepareModelInput(
      String deploymentId,
      Framework framework,
      String model,
      String storageLocation,
      String secretRef) {}

  record ModelInfo(String modelDir, long bytes) {}
}
