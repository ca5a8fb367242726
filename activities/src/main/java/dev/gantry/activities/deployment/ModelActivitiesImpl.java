package dev.gantry.activities.deployment;

import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.infra.model.ModelPreparer;
import dev.gantry.infra.model.ModelPreparer.ModelException;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.file.Path;
import org.springframework.stereotype.Component;

/** Puts the model into storage; permanent failures are non-retryable with a user-facing reason. */
@Component("modelActivities")
public class ModelActivitiesImpl implements ModelActivities {
  private final ModelPreparer preparer;

  public ModelActivitiesImpl(ModelPreparer preparer) {
    this.preparer = preparer;
  }

  @Override
  public ModelInfo prepareModel(PrepareModelInput input) {
    try {
      var prepared =
          preparer.prepare(input.framework(), input.model(), Path.of(input.storageLocation()));
      return new ModelInfo(prepared.modelDir().toString(), prepared.bytes());
    } catch (ModelException e) {
      throw e.type().permanent()
          ? ApplicationFailure.newNonRetryableFailure(e.getMessage(), e.type().name())
          : ApplicationFailure.newFailure(e.getMessage(), e.type().name());
    } catch (IOException e) {
      throw ApplicationFailure.newFailure(
          "could not write the model into storage: " + e.getMessage(), "TRANSIENT");
    }
  }
}
