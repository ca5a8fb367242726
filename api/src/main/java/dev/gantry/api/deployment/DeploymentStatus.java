package dev.gantry.api.deployment;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The seed's deployment states, in the order a deployment passes through them. */
public enum DeploymentStatus {
  STARTING,
  FILESYSTEM_CREATED,
  DOWNLOADING_MODEL,
  MODEL_DOWNLOADED,
  RUNNING,
  FAILED,
  DELETING,
  CLEANING,
  DELETED;

  @JsonValue
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static DeploymentStatus fromWireName(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }

  /** True while deletion was asked for or has finished. */
  public boolean goingAway() {
    return this == DELETING || this == DELETED;
  }
}
