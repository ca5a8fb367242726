package dev.gantry.api.deployment;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import java.util.Optional;

/** Inference engines a deployment can run. {@code SIM} is the bundled simulator. */
public enum Framework {
  VLLM,
  SGLANG,
  OLLAMA,
  SIM;

  @JsonValue
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<Framework> parse(String value) {
    for (Framework f : values()) {
      if (f.wireName().equals(value)) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }

  /** Whether the engine needs a GPU (the simulator does not). */
  public boolean needsGpu() {
    return this != SIM;
  }
}
