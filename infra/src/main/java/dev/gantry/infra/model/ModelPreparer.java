package dev.gantry.infra.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import org.springframework.stereotype.Component;

/**
 * Puts a model into a deployment's storage. The simulator's model is a manifest describing what it
 * serves; real Hugging Face and Ollama pulls are not part of this build yet (issue 5), and say so.
 */
@Component
public class ModelPreparer {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** Result of preparing a model: where it is and how many bytes it holds. */
  public record Prepared(Path modelDir, long bytes) {}

  /** Thrown for failures a user must act on; carries the failure type for the workflow. */
  public static class ModelException extends RuntimeException {
    private final FailureType type;

    public ModelException(FailureType type, String message) {
      super(message);
      this.type = type;
    }

    public FailureType type() {
      return type;
    }
  }

  public Prepared prepare(Framework framework, String model, Path storage) throws IOException {
    if (!Files.isDirectory(storage)) {
      throw new ModelException(
          FailureType.TRANSIENT, "the deployment's storage " + storage + " does not exist");
    }
    return switch (framework) {
      case SIM -> writeSimManifest(model, storage);
      case VLLM, SGLANG, OLLAMA ->
          throw new ModelException(
              FailureType.UNSUPPORTED,
              "downloading models for "
                  + framework.wireName()
                  + " is not available in this Gantry build yet; use framework 'sim'");
    };
  }

  private Prepared writeSimManifest(String model, Path storage) throws IOException {
    Path dir = Files.createDirectories(storage.resolve("model"));
    var manifest = new LinkedHashMap<String, Object>();
    manifest.put("framework", "sim");
    manifest.put("model", model);
    manifest.put("format", "gantry-sim-manifest/1");
    byte[] bytes = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest);
    Path target = dir.resolve("gantry-model.json");
    Path tmp = Files.createTempFile(dir, ".gantry-model", ".tmp");
    try {
      Files.write(tmp, bytes);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    return new Prepared(dir, bytes.length);
  }
}
