package dev.gantry.infra.db;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.deployment.DeploymentSpec;

/** Stores a deployment spec as JSON text, a format that tolerates fields added later. */
final class SpecCodec {
  private static final ObjectMapper MAPPER =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private SpecCodec() {}

  static String write(DeploymentSpec spec) {
    try {
      return MAPPER.writeValueAsString(spec);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise deployment spec", e);
    }
  }

  static DeploymentSpec read(String json) {
    try {
      return MAPPER.readValue(json, DeploymentSpec.class);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("stored deployment spec is not readable", e);
    }
  }
}
