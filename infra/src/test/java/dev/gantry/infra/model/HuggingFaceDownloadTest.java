package dev.gantry.infra.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/** The Hugging Face download against {@link FakeHub}: selection, verification, faults, resume. */
@Timeout(60)
@ExtendWith(OutputCaptureExtension.class)
class HuggingFaceDownloadTest {
  static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
  // Built at run time: no token-shaped literal sits in the sources.
  static final String TOKEN = "hf_" + "gantry" + "Test" + "Token";

  @TempDir Path storage;
  FakeHub hub;
  long freeDisk = Long.MAX_VALUE;

  @BeforeEach
  void startHub() throws IOException {
    hub = new FakeHub();
  }

  @AfterEach
  void stopHub() {
    hub.close();
  }

  static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Settings whose Hub and registry are a closed port, with no retries. */
  static GantryProperties.Models nowhere() {
    return new GantryProperties.Models(
            "http://127.0.0.1:1",
            "http://127.0.0.1:1",
            2,
            Duration.ofSeconds(2),
            Duration.ofSeconds(5),
            0,
            Duration.ofMillis(20),
            0)
        // The fakes listen on loopback: tests allow it, as an operator with a local mirror would.
        .withNetwork(List.of(), true);
  }

  static GantryProperties.Models settings(FakeHub hub, int fileRetries) {
    return new GantryProperties.Models(
            hub.endpoint().toString(),
            "http://127.0.0.1:1",
            4,
            Duration.ofSeconds(5),
            Duration.ofSeconds(20),
            fileRetries,
            Duration.ofMillis(20),
            0)
        // The fakes listen on loopback: tests allow it, as an operator with a local mirror would.
        .withNetwork(List.of(), true);
  }

  ModelPreparer preparer(int fileRetries) {
    return new ModelPreparer(settings(hub, fileRetries), path -> freeDisk);
  }

  ModelRequest request(String model, int storageGb, String token) {
    return new ModelRequest("dep_test01", Framework.VLLM, model, storage, storageGb, token, null);
  }

  /** A repo like many on the Hub: sharded safetensors, the same weights as .bin, and extras. */
  FakeHub.Repo typicalRepo(String id) {
    var index =
        "{\"metadata\":{\"total_size\":3000},\"weight_map\":{"
            + "\"a\":\"model-00001-of-00002.safetensors\","
            + "\"b\":\"model-00002-of-00002.safetensors\"}}";
    return hub.repo(id, COMMIT)
        .file("config.json", "{\"architectures\":[\"LlamaForCausalLM\"]}")
        .file("generation_config.json", "{}")
        .file("tokenizer_config.json", "{\"chat_template\":\"...\"}")
        .file("special_tokens_map.json", "{}")
        .lfsFile("tokenizer.json", random(40_000, 1))
        .lfsFile("tokenizer.model", random(20_000, 2))
        .file("merges.txt", "a b\n")
        .file(HuggingFaceDownloaderFiles.INDEX, index)
        .lfsFile("model-00001-of-00002.safetensors", random(600_000, 3))
        .lfsFile("model-00002-of-00002.safetensors", random(400_000, 4))
        .lfsFile("consolidated.safetensors", random(300_000, 5))
        .lfsFile("pytorch_model.bin", random(300_000, 6))
        .file("pytorch_model.bin.index.json", "{}")
        .lfsFile("model.gguf", random(100_000, 7))
        .lfsFile("onnx/model.onnx", random(100_000, 8))
        .lfsFile("original/consolidated.00.pth", random(100_000, 9))
        .lfsFile("flax_model.msgpack", random(100_000, 10))
        .file("README.md", "# model")
        .file(".gitattributes", "*.safetensors filter=lfs");
  }

  static Set<String> filesUnder(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile)
          .map(p -> dir.relativize(p).toString())
          .collect(Collectors.toSet());
    }
  }

  @Test
  void publicRepoFetchesOnlyWhatTheEngineNeedsVerifiedAndWithoutTheTokenOnTheCdn()
      throws IOException {
    var repo = typicalRepo("org/tiny-llama");
    hub.validToken = TOKEN;
    List<long[]> progress = new CopyOnWriteArrayList<>();

    var prepared =
        preparer(2)
            .prepare(
                request("org/tiny-llama", 1, TOKEN), (d, t) -> progress.add(new long[] {d, t}));

    Path modelDir = storage.resolve("model");
    Set<String> expected =
        Set.of(
            "config.json",
            "generation_config.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer.model",
            "merges.txt",
            HuggingFaceDownloaderFiles.INDEX,
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors");
    assertThat(filesUnder(modelDir)).isEqualTo(expected);
    for (String f : expected) {
      assertThat(Files.readAllBytes(modelDir.resolve(f))).as(f).isEqualTo(repo.files.get(f));
    }
    long total = expected.stream().mapToLong(f -> repo.files.get(f).length).sum();
    assertThat(prepared.bytes()).isEqualTo(total);
    assertThat(prepared.revision()).isEqualTo(COMMIT);
    assertThat(prepared.modelDir()).isEqualTo(modelDir);
    assertThat(progress).isNotEmpty();
    assertThat(progress.getLast()).containsExactly(total, total);

    // Skipped formats were never requested; files were fetched at the resolved commit.
    assertThat(hub.requests)
        .noneMatch(
            r ->
                r.path().contains("gguf")
                    || r.path().contains("onnx")
                    || r.path().contains("pytorch_model")
                    || r.path().contains("consolidated")
                    || r.path().contains("original")
                    || r.path().contains("msgpack")
                    || r.path().contains("README"));
    assertThat(hub.requests.stream().filter(r -> r.path().contains("/resolve/")))
        .allMatch(r -> r.path().contains("/resolve/" + COMMIT + "/"));
    // The token goes to the Hub only, never to the CDN that LFS files are redirected to.
    assertThat(hub.requests.stream().filter(r -> r.server().equals("hub")))
        .allMatch(r -> ("Bearer " + TOKEN).equals(r.authorization()));
    assertThat(hub.requests.stream().filter(r -> r.server().equals("cdn")))
        .isNotEmpty()
        .allMatch(r -> r.authorization() == null);

    // Prepared again (a retried activity after it finished): the marker answers, no network.
    int before = hub.requests.size();
    var again = preparer(2).prepare(request("org/tiny-llama", 1, TOKEN), ProgressListener.NONE);
    assertThat(again.bytes()).isEqualTo(total);
    assertThat(hub.requests).hasSize(before);
  }

  @Test
  void gatedRepoWithoutTokenFailsPermanentlyAndSaysToAddAnHfToken(CapturedOutput output)
      throws IOException {
    typicalRepo("meta/gated-model").gated = "manual";

    var e =
        catchThrowableOfType(
            ModelException.class,
            () ->
                preparer(2).prepare(request("meta/gated-model", 50, null), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.MODEL_ACCESS_DENIED);
    assertThat(e.permanent()).isTrue();
    assertThat(e.getMessage())
        .isEqualTo(
            "meta/gated-model is gated or private: add an HF_TOKEN with access to it in the"
                + " deployment's env");
    assertThat(hub.requests).noneMatch(r -> r.path().contains("/resolve/"));
    assertThat(filesUnder(storage)).isEmpty();
  }

  @Test
  void gatedRepoWithATokenWithoutAccessFailsWithoutShowingTheToken(CapturedOutput output) {
    typicalRepo("meta/gated-model").gated = "manual";
    hub.validToken = "hf_" + "someoneElse";

    var e =
        catchThrowableOfType(
            ModelException.class,
            () ->
                preparer(2).prepare(request("meta/gated-model", 50, TOKEN), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.MODEL_ACCESS_DENIED);
    assertThat(e.getMessage())
        .startsWith("meta/gated-model is gated or private and the deployment's HF_TOKEN has no")
        .contains("add an HF_TOKEN with access to it in the deployment's env")
        .doesNotContain(TOKEN);
    assertThat(hub.requestsFor(".json")).isNotEmpty();
    // Neither the failure, its causes, nor anything logged carries the token.
    for (Throwable t = e; t != null; t = t.getCause()) {
      assertThat(String.valueOf(t.getMessage())).doesNotContain(TOKEN);
    }
    assertThat(output.getAll()).doesNotContain(TOKEN).doesNotContain("someoneElse");
    assertThat(new ModelRequest("d", Framework.VLLM, "m", storage, 1, TOKEN, null).toString())
        .doesNotContain(TOKEN);
  }

  @Test
  void gatedRepoWithAValidTokenDownloads() throws IOException {
    typicalRepo("meta/gated-model").gated = "auto";
    hub.validToken = TOKEN;

    var prepared =
        preparer(2).prepare(request("meta/gated-model", 50, TOKEN), ProgressListener.NONE);

    assertThat(Files.exists(prepared.modelDir().resolve("model-00001-of-00002.safetensors")))
        .isTrue();
  }

  @Test
  void privateRepoWithoutTokenIsNotFoundWithAHintAboutTheToken() {
    var repo = typicalRepo("acme/secret-model");
    repo.isPrivate = true;

    var e =
        catchThrowableOfType(
            ModelException.class,
            () ->
                preparer(2).prepare(request("acme/secret-model", 50, null), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.MODEL_NOT_FOUND);
    assertThat(e.getMessage())
        .isEqualTo(
            "model not found: acme/secret-model at revision main (if it is private, add an"
                + " HF_TOKEN with access to it in the deployment's env)");
  }

  @Test
  void missingRepoAndMissingRevisionNameRepoAndRevision() {
    typicalRepo("org/tiny-llama");
    hub.validToken = TOKEN;

    var missingRepo =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer(2).prepare(request("nobody/nothing", 50, TOKEN), ProgressListener.NONE));
    var missingRevision =
        catchThrowableOfType(
            ModelException.class,
            () ->
                preparer(2)
                    .prepare(request("org/tiny-llama@v9.9", 50, TOKEN), ProgressListener.NONE));

    assertThat(missingRepo.type()).isEqualTo(FailureType.MODEL_NOT_FOUND);
    assertThat(missingRepo.permanent()).isTrue();
    assertThat(missingRepo.getMessage())
        .isEqualTo("model not found: nobody/nothing at revision main");
    assertThat(missingRevision.getMessage())
        .isEqualTo("model not found: org/tiny-llama at revision v9.9");
  }

  @Test
  void transferCutOffHalfwayIsResumedWithARangeRequest() throws IOException {
    var repo = typicalRepo("org/tiny-llama");
    String shard = "model-00001-of-00002.safetensors";
    int size = repo.files.get(shard).length;
    hub.cutOffs.put(shard, 1);

    preparer(2).prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE);

    long resumedAt = assertResumed(shard, size);
    // The part the server sent after the cut (from where the client's copy ended) was all it sent:
    // the second request continued the file, it did not restart it.
    assertThat(hub.served(shard)).isEqualTo(size / 2 + (size - resumedAt));
    assertThat(Files.readAllBytes(storage.resolve("model").resolve(shard)))
        .isEqualTo(repo.files.get(shard));
  }

  @Test
  void aPlatformCrashMidDownloadResumesFromThePartialFileOnDisk() throws IOException {
    var repo = typicalRepo("org/tiny-llama");
    String shard = "model-00001-of-00002.safetensors";
    int size = repo.files.get(shard).length;
    hub.cutOffs.put(shard, 1);

    // No retries within the attempt: the failure ends it, as a crash of the platform would.
    var first =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer(0).prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE));
    assertThat(first.type()).isEqualTo(FailureType.TRANSIENT);
    assertThat(first.getMessage()).startsWith("network error downloading " + shard);
    long partSize;
    try (Stream<Path> parts = Files.walk(storage.resolve(".gantry"))) {
      Path part =
          parts
              .filter(
                  p ->
                      p.getFileName().toString().startsWith(shard)
                          && p.toString().endsWith(".part"))
              .findFirst()
              .orElseThrow();
      partSize = Files.size(part);
    }
    assertThat(partSize).isPositive().isLessThanOrEqualTo(size / 2);
    assertThat(storage.resolve("model").resolve(shard)).doesNotExist();

    // A new preparer (a restarted platform) continues the same file from its partial copy.
    List<long[]> progress = new CopyOnWriteArrayList<>();
    preparer(0)
        .prepare(request("org/tiny-llama", 1, null), (d, t) -> progress.add(new long[] {d, t}));

    assertThat(assertResumed(shard, size)).isEqualTo(partSize);
    assertThat(hub.served(shard)).isEqualTo(size / 2 + (size - partSize));
    // Progress starts from what was on disk, not from zero.
    assertThat(progress.getFirst()[0]).isGreaterThanOrEqualTo(partSize);
    assertThat(Files.readAllBytes(storage.resolve("model").resolve(shard)))
        .isEqualTo(repo.files.get(shard));
  }

  /**
   * Asserts the file was asked for twice: in full, then from a byte after the start and no later
   * than where the server cut it (bytes in flight when the connection dropped may be lost). Returns
   * that byte.
   */
  private long assertResumed(String shard, int size) {
    var ranges =
        hub.requestsFor("/" + shard).stream()
            .filter(r -> r.server().equals("cdn"))
            .map(FakeHub.Request::range)
            .toList();
    assertThat(ranges).hasSize(2);
    assertThat(ranges.getFirst()).isNull();
    assertThat(ranges.get(1)).matches("bytes=\\d+-");
    long from = Long.parseLong(ranges.get(1).replaceAll("\\D", ""));
    assertThat(from).isPositive().isLessThanOrEqualTo(size / 2);
    return from;
  }

  @Test
  void aServerThatIgnoresRangeGetsTheFileFromTheStart(CapturedOutput output) throws IOException {
    var repo = typicalRepo("org/tiny-llama");
    String shard = "model-00002-of-00002.safetensors";
    int size = repo.files.get(shard).length;
    hub.cutOffs.put(shard, 1);
    hub.ignoreRange = true;

    preparer(2).prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE);

    assertThat(hub.served(shard)).isEqualTo(size / 2 + size);
    assertThat(Files.readAllBytes(storage.resolve("model").resolve(shard)))
        .isEqualTo(repo.files.get(shard));
    assertThat(output.getAll()).contains("ignored the range request for " + shard);
  }

  @Test
  void aFileThatDoesNotMatchItsHashIsRejectedAndRemoved() throws IOException {
    typicalRepo("org/tiny-llama");
    String shard = "model-00002-of-00002.safetensors";
    hub.corrupt.add(shard);

    var e =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer(2).prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.TRANSIENT);
    assertThat(e.getMessage())
        .startsWith(shard + " failed verification (expected 400000 bytes with sha256 ")
        .endsWith("the downloaded copy was removed");
    assertThat(storage.resolve("model").resolve(shard)).doesNotExist();
    try (Stream<Path> all = Files.walk(storage)) {
      assertThat(all.map(Path::toString)).noneMatch(p -> p.contains(shard + "."));
    }
  }

  @Test
  void aSmallFileWithTheWrongGitHashIsRejectedToo() {
    typicalRepo("org/tiny-llama");
    hub.corrupt.add("config.json");

    assertThatThrownBy(
            () -> preparer(2).prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE))
        .isInstanceOf(ModelException.class)
        .hasMessageStartingWith("config.json ");
    assertThat(storage.resolve("model").resolve("config.json")).doesNotExist();
  }

  @Test
  void aModelLargerThanStorageGbFailsBeforeDownloadingWeights() {
    var repo = typicalRepo("org/big-model");
    repo.listedSize.put("model-00001-of-00002.safetensors", 3L << 30);

    var e =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer(2).prepare(request("org/big-model", 2, null), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.STORAGE_FULL);
    assertThat(e.permanent()).isTrue();
    assertThat(e.getMessage())
        .isEqualTo(
            "the model needs 3.0 GB but the deployment's storage_gb is 2; create the deployment"
                + " with a larger storage_gb");
    assertThat(hub.requests).noneMatch(r -> r.path().endsWith(".safetensors"));
  }

  @Test
  void notEnoughFreeDiskFailsBeforeDownloading() {
    typicalRepo("org/tiny-llama");
    freeDisk = 100_000;

    var e =
        catchThrowableOfType(
            ModelException.class,
            () -> preparer(2).prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.STORAGE_FULL);
    assertThat(e.getMessage()).startsWith("not enough free disk for the model: it needs ");
    assertThat(hub.requests).noneMatch(r -> r.path().endsWith(".safetensors"));
  }

  @Test
  void anUnreachableHubIsATransientFailureNamingTheHost() {
    var settings = nowhere();

    var e =
        catchThrowableOfType(
            ModelException.class,
            () ->
                new ModelPreparer(settings, p -> Long.MAX_VALUE)
                    .prepare(request("org/tiny-llama", 1, null), ProgressListener.NONE));

    assertThat(e.type()).isEqualTo(FailureType.TRANSIENT);
    assertThat(e.getMessage())
        .startsWith("could not list org/tiny-llama at revision main on 127.0.0.1");
  }

  @Test
  void theDeploymentsHfEndpointWinsOverThePlatformSetting() throws IOException {
    typicalRepo("org/tiny-llama");
    // The operator allowed this mirror; the platform's own endpoint is unreachable.
    var elsewhere = nowhere().withNetwork(List.of(hub.endpoint().toString()), true);
    var request =
        new ModelRequest(
            "dep_test01",
            Framework.SGLANG,
            "org/tiny-llama",
            storage,
            1,
            null,
            hub.endpoint().toString());

    var prepared =
        new ModelPreparer(elsewhere, p -> Long.MAX_VALUE).prepare(request, ProgressListener.NONE);

    assertThat(prepared.modelDir().resolve("config.json")).exists();
  }

  @Test
  void aRepoWithoutServableWeightsIsRefused() {
    hub.repo("org/gguf-only", COMMIT)
        .file("config.json", "{}")
        .lfsFile("model-q4.gguf", random(1000, 1));

    assertThatThrownBy(
            () -> preparer(2).prepare(request("org/gguf-only", 1, null), ProgressListener.NONE))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("holds no safetensors or PyTorch weights");
  }

  @Test
  void withoutSafetensorsThePytorchWeightsAreFetched() throws IOException {
    hub.repo("org/old-model", COMMIT)
        .file("config.json", "{}")
        .lfsFile("pytorch_model.bin", random(5000, 1))
        .file("vocab.txt", "a\nb\n".getBytes(StandardCharsets.UTF_8))
        .lfsFile("tf_model.h5", random(5000, 2));

    preparer(2).prepare(request("org/old-model", 1, null), ProgressListener.NONE);

    assertThat(filesUnder(storage.resolve("model")))
        .containsExactlyInAnyOrder("config.json", "pytorch_model.bin", "vocab.txt");
  }
}
