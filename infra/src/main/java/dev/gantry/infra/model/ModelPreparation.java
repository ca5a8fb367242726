package dev.gantry.infra.model;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Puts a deployment's model into its storage before any worker starts: in this JVM ({@link
 * ModelPreparer}, the {@code local} runtime) or in a Kubernetes Job that runs the same code next to
 * the storage claim. Preparing a model that is already complete costs no download.
 */
public interface ModelPreparation {

  /**
   * Makes the model complete in the deployment's storage.
   *
   * @throws ModelException with a reason a user can act on; {@link ModelException#permanent()} says
   *     whether trying again can help
   */
  Prepared prepare(ModelRequest request, ProgressListener listener) throws IOException;

  /**
   * Result of preparing a model: where engines find it, how many bytes it holds, and which version
   * (null when it has none).
   */
  record Prepared(Path modelDir, long bytes, String revision) {}
}
