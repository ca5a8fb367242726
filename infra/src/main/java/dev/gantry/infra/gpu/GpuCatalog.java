package dev.gantry.infra.gpu;

import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.config.GantryProperties.GpuType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.springframework.stereotype.Component;

/** The GPU types users may ask for, from configuration. */
@Component
public class GpuCatalog {
  private final Map<String, GpuType> types = new LinkedHashMap<>();

  public GpuCatalog(GantryProperties properties) {
    properties.gpuCatalog().forEach(t -> types.put(t.name(), t));
  }

  public Optional<GpuType> find(String name) {
    return Optional.ofNullable(types.get(name));
  }

  public java.util.Set<String> names() {
    return types.keySet();
  }
}
