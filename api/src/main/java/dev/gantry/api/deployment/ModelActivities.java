package dev.gantry.api.deployment;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.temporal.activity.ActivityInterface;
import java.util.List;
import java.util.Objects;

/** Puts the model into the deployment's storage before any worker starts. */
@ActivityInterface
public interface ModelActivities {

  /**
   * Downloads the model, heartbeating {@link DownloadProgress}. A retried attempt (or one after a
   * platform restart) resumes from the files already in storage. Permanent failures (no access, not
   * found, too big for the storage) are non-retryable.
   */
  ModelInfo prepareModel(PrepareModelInput input);

  /**
   * The engine's {@code secretRef} lets the activity resolve e.g. HF_TOKEN itself; values never
   * pass here.
   *
   * @param engine the deployment's engine: its framework and model say what to download
   * @param storageGb the deployment's storage size, which the model must fit in; 0 when a workflow
   *     started before this field existed, and the activity then reads it from the deployment
   */
  record PrepareModelInput(
      String deploymentId, EngineIdentity engine, String storageLocation, int storageGb) {

    public PrepareModelInput {
      Objects.requireNonNull(engine, "engine");
    }

    /**
     * Reads this shape, and the flat one of downloads scheduled before the engine identity was one
     * value ({@code framework}, {@code model}, {@code secretRef}): a download pending or retrying
     * when the platform is upgraded still runs.
     */
    @JsonCreator
    static PrepareModelInput fromJson(
        @JsonProperty("deploymentId") String deploymentId,
        @JsonProperty("engine") EngineIdentity engine,
        @JsonProperty("storageLocation") String storageLocation,
        @JsonProperty("storageGb") int storageGb,
        @JsonProperty("framework") Framework framework,
        @JsonProperty("model") String model,
        @JsonProperty("secretRef") String secretRef) {
      return new PrepareModelInput(
          deploymentId,
          engine != null
              ? engine
              : new EngineIdentity(framework, model, null, List.of(), secretRef),
          storageLocation,
          storageGb);
    }
  }

  /**
   * The prepared model, or, when {@code waitingFor} is set, nothing yet: the tenant already runs as
   * many downloads as it may, and the workflow calls again later (without holding a worker's
   * activity slot meanwhile). {@code waitingFor} says so in words for the status reason.
   */
  record ModelInfo(String modelDir, long bytes, String waitingFor) {

    public ModelInfo(String modelDir, long bytes) {
      this(modelDir, bytes, null);
    }

    public static ModelInfo waiting(String reason) {
      return new ModelInfo(null, 0, reason);
    }
  }

  /** Heartbeat details of {@link #prepareModel}: bytes in storage so far, of the whole model. */
  record DownloadProgress(long bytesDone, long bytesTotal) {}
}
