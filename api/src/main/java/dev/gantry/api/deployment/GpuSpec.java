package dev.gantry.api.deployment;

import java.util.List;

/** GPU type and count per worker, with types to fall back to when the first has no room. */
public record GpuSpec(String type, int count, List<String> fallbackTypes) {
  public GpuSpec {
    fallbackTypes = fallbackTypes == null ? List.of() : List.copyOf(fallbackTypes);
  }
}
