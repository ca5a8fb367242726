package dev.gantry.api.worker;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** A worker's life: provisioning, healthy, draining, then stopped; or failed. */
public enum WorkerStatus {
  PROVISIONING,
  HEALTHY,
  DRAINING,
  FAILED,
  STOPPED;

  @JsonValue
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static WorkerStatus fromWireName(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }

  public boolean current() {
    return this == PROVISIONING || this == HEALTHY || this == DRAINING;
  }
}
