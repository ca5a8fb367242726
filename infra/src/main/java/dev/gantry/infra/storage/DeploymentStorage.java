package dev.gantry.infra.storage;

import java.nio.file.Path;

/**
 * A deployment's persistent model storage, in the runtime's terms: a directory on this host ({@code
 * local}) or a PersistentVolumeClaim ({@code kubernetes}). Every method is idempotent, because the
 * activities that call it are retried.
 */
public interface DeploymentStorage {

  /**
   * Creates the storage if it is missing.
   *
   * @param sizeGb the deployment's {@code storage_gb}
   * @return where the storage lives, in the runtime's terms (a directory, a claim name)
   */
  String create(String deploymentId, int sizeGb);

  /** The path engines and downloads see the storage at. */
  Path pathOf(String deploymentId);

  /** Removes the storage and everything in it; a missing one is not an error. */
  void remove(String deploymentId);
}
