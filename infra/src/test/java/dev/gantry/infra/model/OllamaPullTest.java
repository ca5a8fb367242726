package dev.gantry.infra.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Ollama pulls against {@link FakeOllamaRegistry}: layout, verification, failures. */
@Timeout(60)
class OllamaPullTest {
  @TempDir Path storage;
  FakeOllamaRegistry registry;

  @BeforeEach
  void start() throws IOException {
    registry = new FakeOllamaRegistry();
  }

  @AfterEach
  void stop() {
    registry.close();
  }

  ModelPreparer preparer() {
    return new ModelPreparer(
        new GantryProperties.Models(
                "http://127.0.0.1:1",
                registry.base().toString(),
                4,
                Duration.ofSeconds(5),
                Duration.ofSeconds(20),
                1,
                Duration.ofMillis(20),
                0)
            // The fakes listen on loopback: tests allow it, as an operator with a local mirror
            // would.
            .withNetwork(List.of(), true),
        p -> Long.MAX_VALUE);
  }

  ModelRequest request(String model) {
    return new ModelRequest("dep_test01", Framework.OLLAMA, model, storage, 1, null, null);
  }

  static Map<String, byte[]> layers() {
    var layers = new LinkedHashMap<String, byte[]>();
    layers.put("application/vnd.ollama.image.model", HuggingFaceDownloadTest.random(700_000, 1));
    layers.put("application/vnd.ollama.image.template", "{{ .Prompt }}".getBytes());
    layers.put("application/vnd.ollama.image.params", "{\"stop\":[\"<|im_end|>\"]}".getBytes());
    return layers;
  }

  @Test
  void pullWritesTheLayoutOllamaServeReads() throws IOException {
    var model = registry.publish("library", "qwen2.5", "0.5b", layers());

    var prepared = preparer().prepare(request("qwen2.5:0.5b"), ProgressListener.NONE);

    Path ollama = storage.resolve("ollama");
    assertThat(prepared.modelDir()).isEqualTo(ollama);
    Path manifest = ollama.resolve("manifests/registry.ollama.ai/library/qwen2.5/0.5b");
    assertThat(Files.readAllBytes(manifest)).isEqualTo(model.manifest());
    for (var blob : model.blobs().entrySet()) {
      Path file = ollama.resolve("blobs").resolve(blob.getKey().replace(':', '-'));
      assertThat(Files.readAllBytes(file)).as(blob.getKey()).isEqualTo(blob.getValue());
    }
    try (var files = Files.list(ollama.resolve("blobs"))) {
      assertThat(files).hasSize(model.blobs().size());
    }
    assertThat(prepared.bytes())
        .isEqualTo(model.blobs().values().stream().mapToLong(b -> b.length).sum());
    assertThat(registry.accepts).allMatch(a -> a.contains(FakeOllamaRegistry.MANIFEST_TYPE));

    // Pulled again: nothing is fetched.
    int before = registry.requests.size();
    preparer().prepare(request("qwen2.5:0.5b"), ProgressListener.NONE);
    assertThat(registry.requests).hasSize(before);
  }

  @Test
  void namespacedModelsAndTheLatestTagLandUnderTheirOwnPath() throws IOException {
    registry.publish("someone", "tiny", "latest", layers());

    preparer().prepare(request("someone/tiny"), ProgressListener.NONE);

    assertThat(storage.resolve("ollama/manifests/registry.ollama.ai/someone/tiny/latest"))
        .isRegularFile();
  }

  @Test
  void aBlobThatDoesNotMatchItsDigestIsRejectedAndTheModelStaysInvisible() throws IOException {
    var model = registry.publish("library", "qwen2.5", "0.5b", layers());
    String weights = model.blobs().keySet().stream().skip(1).findFirst().orElseThrow();
    byte[] bad = model.blobs().get(weights).clone();
    bad[10] ^= 1;
    registry.tampered.put(weights, bad);

    var e =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer().prepare(request("qwen2.5:0.5b"), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.TRANSIENT);
    assertThat(e.getMessage()).startsWith(weights + " failed verification");
    assertThat(storage.resolve("ollama/blobs").resolve(weights.replace(':', '-'))).doesNotExist();
    assertThat(storage.resolve("ollama/manifests")).doesNotExist();
  }

  @Test
  void anUnknownModelIsNotFound() {
    var e =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer().prepare(request("nope:1b"), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.MODEL_NOT_FOUND);
    assertThat(e.getMessage()).isEqualTo("model not found: nope:1b is not in the Ollama registry");
  }

  @Test
  void notEnoughFreeDiskFailsBeforePulling() throws IOException {
    registry.publish("library", "qwen2.5", "0.5b", layers());
    var request =
        new ModelRequest("dep_test01", Framework.OLLAMA, "qwen2.5:0.5b", storage, 1, null, null);
    var tiny =
        new ModelPreparer(
            new GantryProperties.Models(
                    "http://127.0.0.1:1",
                    registry.base().toString(),
                    4,
                    Duration.ofSeconds(5),
                    Duration.ofSeconds(20),
                    1,
                    Duration.ofMillis(20),
                    0)
                // The fakes listen on loopback: tests allow it, as an operator with a local mirror
                // would.
                .withNetwork(List.of(), true),
            p -> 1000);

    var e = catchThrowableOfType(ModelException.class, () -> tiny.prepare(request, (d, t) -> {}));

    assertThat(e.type()).isEqualTo(FailureType.STORAGE_FULL);
    assertThat(registry.requests).noneMatch(r -> r.contains("/blobs/"));
  }
}
