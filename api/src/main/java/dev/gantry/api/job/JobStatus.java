package dev.gantry.api.job;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * The states of an async request, as the seeds name them: accepted and waiting for a worker ({@code
 * queued}), given a slot on a worker ({@code fetched}), sent to the engine ({@code processing}),
 * then {@code completed}, {@code failed}, or {@code cancelled} by its owner.
 */
public enum JobStatus {
  QUEUED,
  FETCHED,
  PROCESSING,
  COMPLETED,
  FAILED,
  CANCELLED;

  @JsonValue
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static JobStatus fromWireName(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }

  public boolean finished() {
    return this == COMPLETED || this == FAILED || this == CANCELLED;
  }
}
