package dev.gantry.infra.model;

import dev.gantry.api.deployment.Framework;
import java.nio.file.Path;

/**
 * What to put into a deployment's storage. {@code hfToken} is a resolved secret: it lives only in
 * memory for the download and {@link #toString()} never shows it.
 *
 * @param storageDir the deployment's storage directory
 * @param storageGb the deployment's {@code storage_gb}: the model must fit in it
 * @param hfToken the deployment's {@code HF_TOKEN}, or null
 * @param hfEndpoint the deployment's {@code HF_ENDPOINT}, or null for the platform's setting
 */
public record ModelRequest(
    String deploymentId,
    Framework framework,
    String model,
    Path storageDir,
    int storageGb,
    String hfToken,
    String hfEndpoint) {

  @Override
  public String toString() {
    return "ModelRequest[deploymentId=%s, framework=%s, model=%s, storageDir=%s, storageGb=%d, hfToken=%s, hfEndpoint=%s]"
        .formatted(
            deploymentId,
            framework,
            model,
            storageDir,
            storageGb,
            hfToken == null ? "none" : "***",
            hfEndpoint);
  }
}
