package dev.gantry.infra.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * Puts a deployment's model into its storage before any worker starts, so that every worker (the
 * first, a replacement, a scaled-up one) loads it from there and none downloads it:
 *
 * <ul>
 *   <li>{@code vllm} and {@code sglang}: the Hugging Face repo in {@code <storage>/model}
 *   <li>{@code ollama}: an {@code OLLAMA_MODELS} store in {@code <storage>/ollama}
 *   <li>{@code sim}: a manifest in {@code <storage>/model} describing what the simulator serves
 * </ul>
 *
 * Partial files and markers live in {@code <storage>/.gantry}; a download interrupted by anything,
 * a platform crash included, resumes from them. {@code <storage>/.gantry/model.json} is written
 * last and says the model is complete, so preparing it again costs no network.
 */
@Component
@ConditionalOnProperty(
    prefix = "gantry.runtime",
    name = "type",
    havingValue = "local",
    matchIfMissing = true)
public class ModelPreparer implements ModelPreparation {
  private static final Logger log = LoggerFactory.getLogger(ModelPreparer.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();
  static final String STATE_DIR = ".gantry";
  private static final String FORMAT = "gantry-model/1";
  private static final java.time.Duration HEADER_TIMEOUT = java.time.Duration.ofSeconds(30);

  private final GantryProperties.Models settings;
  private final ToLongFunction<Path> freeSpace;
  private final HuggingFaceDownloader huggingFace;
  private final OllamaPuller ollama;
  private final EndpointPolicy policy;
  private final Map<Path, ReentrantLock> locks = new ConcurrentHashMap<>();

  @Autowired
  public ModelPreparer(GantryProperties properties) {
    this(properties.models(), StorageBudget.usableSpace());
  }

  /**
   * @param freeSpace usable bytes of the volume holding a path (replaced in tests)
   */
  public ModelPreparer(GantryProperties.Models settings, ToLongFunction<Path> freeSpace) {
    this.settings = settings;
    this.freeSpace = freeSpace;
    // Bounds a wait for headers; the calling thread heartbeats meanwhile (every network step is
    // watched), and a stalled body is the stall timeout's and the minimum rate's to catch.
    var headerTimeout =
        settings.stallTimeout().compareTo(HEADER_TIMEOUT) < 0
            ? settings.stallTimeout()
            : HEADER_TIMEOUT;
    this.policy = new EndpointPolicy(settings);
    var http = new ModelHttp(settings.connectTimeout(), headerTimeout, policy);
    var downloader = new ResumableDownloader(http, settings.fileRetries());
    var parallel =
        new ParallelDownload.Settings(
            settings.parallelDownloads(),
            settings.progressInterval(),
            settings.stallTimeout(),
            settings.minBytesPerSecond(),
            settings.rateWindow());
    this.huggingFace =
        new HuggingFaceDownloader(http, downloader, parallel, settings.maxListingFiles());
    this.ollama = new OllamaPuller(http, downloader, parallel);
  }

  /**
   * Makes the model complete in {@code request.storageDir()}.
   *
   * @throws ModelException with a reason a user can act on; {@link ModelException#permanent()} says
   *     whether trying again can help
   */
  @Override
  public Prepared prepare(ModelRequest request, ProgressListener listener) throws IOException {
    Path storage = request.storageDir();
    if (!Files.isDirectory(storage)) {
      throw new ModelException(
          FailureType.TRANSIENT, "the deployment's storage " + storage + " does not exist");
    }
    // An attempt that timed out on its heartbeat may still be running in this JVM when the next
    // one starts; two writers on the same partial files would corrupt them.
    var lock =
        locks.computeIfAbsent(storage.toAbsolutePath().normalize(), k -> new ReentrantLock());
    try {
      while (!lock.tryLock(settings.progressInterval().toMillis(), TimeUnit.MILLISECONDS)) {
        listener.waiting();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelException(FailureType.TRANSIENT, "interrupted while waiting for storage", e);
    }
    try {
      return switch (request.framework()) {
        case SIM -> writeSimManifest(request.model(), storage);
        case VLLM, SGLANG -> huggingFace(request, listener);
        case OLLAMA -> ollama(request, listener);
      };
    } finally {
      lock.unlock();
    }
  }

  /** Where a framework's engine finds the model in a deployment's storage. */
  public static Path modelDirOf(Framework framework, Path storage) {
    return framework == Framework.OLLAMA ? storage.resolve("ollama") : storage.resolve("model");
  }

  private Prepared huggingFace(ModelRequest request, ProgressListener listener) throws IOException {
    var ref = HuggingFaceDownloader.RepoRef.parse(request.model());
    Path storage = request.storageDir();
    Path modelDir = modelDirOf(request.framework(), storage);
    var done = completed(storage, "huggingface", request.model(), modelDir);
    if (done != null) {
      listener.progress(done.bytes(), done.bytes());
      return done;
    }
    URI endpoint = endpoint(request.hfEndpoint());
    var snapshot =
        huggingFace.download(
            ref,
            endpoint,
            blankToNull(request.hfToken()),
            modelDir,
            storage.resolve(STATE_DIR).resolve("downloads").resolve("hf"),
            budget(request),
            listener);
    writeMarker(storage, "huggingface", request.model(), snapshot.commit(), snapshot.bytes());
    log.info(
        "Model {} of deployment {} is complete: commit {}, {} files, {} bytes",
        ref,
        request.deploymentId(),
        snapshot.commit(),
        snapshot.files().size(),
        snapshot.bytes());
    return new Prepared(modelDir, snapshot.bytes(), snapshot.commit());
  }

  private Prepared ollama(ModelRequest request, ProgressListener listener) throws IOException {
    var ref = OllamaPuller.ModelRef.parse(request.model());
    Path storage = request.storageDir();
    Path ollamaDir = modelDirOf(Framework.OLLAMA, storage);
    var done = completed(storage, "ollama", request.model(), ollamaDir);
    if (done != null && Files.isRegularFile(ref.manifestPath(ollamaDir))) {
      listener.progress(done.bytes(), done.bytes());
      return done;
    }
    if (!policy.allowsOllamaHost(ref.host())) {
      throw new ModelException(
          FailureType.INVALID_SPEC,
          "the model's registry host is not one this platform allows; ask the operator to add"
              + " https://<host> to gantry.models.allowed-endpoints");
    }
    URI registry = httpUri(settings.ollamaRegistry(), "gantry.models.ollama-registry");
    var pulled =
        ollama.pull(
            ref,
            registry,
            ollamaDir,
            storage.resolve(STATE_DIR).resolve("downloads").resolve("ollama"),
            budget(request),
            listener);
    String digest = pulled.digests().getLast();
    writeMarker(storage, "ollama", request.model(), digest, pulled.bytes());
    log.info(
        "Model {} of deployment {} is complete: {} blobs, {} bytes",
        ref.display(),
        request.deploymentId(),
        pulled.digests().size(),
        pulled.bytes());
    return new Prepared(ollamaDir, pulled.bytes(), digest);
  }

  private StorageBudget budget(ModelRequest request) {
    return new StorageBudget(request.storageGb(), freeSpace, settings.minFreeDiskBytes());
  }

  private URI endpoint(String deploymentEndpoint) {
    String configured = blankToNull(deploymentEndpoint);
    if (configured != null && !policy.allowsTenantEndpoint(configured)) {
      // Deployments created before the operator narrowed the list get here; new ones get a 400.
      throw new ModelException(
          FailureType.INVALID_SPEC,
          "the deployment's HF_ENDPOINT is not one of the model mirrors this platform allows;"
              + " remove it, or ask the operator to add it to gantry.models.allowed-endpoints");
    }
    return configured != null
        ? httpUri(configured, "HF_ENDPOINT")
        : httpUri(settings.hfEndpoint(), "gantry.models.hf-endpoint");
  }

  private static URI httpUri(String value, String setting) {
    try {
      URI uri = URI.create(value.trim());
      if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          && uri.getHost() != null
          && uri.getUserInfo() == null
          && uri.getQuery() == null) {
        return uri;
      }
    } catch (IllegalArgumentException e) {
      // Reported below, in the same words as a URL of the wrong kind.
    }
    throw new ModelException(
        FailureType.INVALID_SPEC, setting + " must be an http or https URL without credentials");
  }

  /** The marker of a complete model of this source and name, or null. */
  private static Prepared completed(Path storage, String source, String model, Path modelDir) {
    Path marker = storage.resolve(STATE_DIR).resolve("model.json");
    if (!Files.isRegularFile(marker) || !Files.isDirectory(modelDir)) {
      return null;
    }
    try {
      JsonNode m = MAPPER.readTree(marker.toFile());
      if (FORMAT.equals(m.path("format").asText())
          && source.equals(m.path("source").asText())
          && model.equals(m.path("model").asText())) {
        log.info("Model {} is already complete in {}; nothing to download", model, storage);
        return new Prepared(modelDir, m.path("bytes").asLong(), m.path("revision").asText());
      }
    } catch (IOException e) {
      log.warn("Ignoring an unreadable model marker in {}", storage, e);
    }
    return null;
  }

  private static void writeMarker(
      Path storage, String source, String model, String revision, long bytes) throws IOException {
    var marker = new LinkedHashMap<String, Object>();
    marker.put("format", FORMAT);
    marker.put("source", source);
    marker.put("model", model);
    marker.put("revision", revision);
    marker.put("bytes", bytes);
    writeJson(storage.resolve(STATE_DIR).resolve("model.json"), marker);
  }

  private Prepared writeSimManifest(String model, Path storage) throws IOException {
    Path dir = Files.createDirectories(storage.resolve("model"));
    var manifest = new LinkedHashMap<String, Object>();
    manifest.put("framework", "sim");
    manifest.put("model", model);
    manifest.put("format", "gantry-sim-manifest/1");
    long bytes = writeJson(dir.resolve("gantry-model.json"), manifest);
    return new Prepared(dir, bytes, null);
  }

  private static long writeJson(Path target, Map<String, Object> content) throws IOException {
    byte[] bytes = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(content);
    Files.createDirectories(target.getParent());
    Path tmp = Files.createTempFile(target.getParent(), ".tmp-", ".json");
    try {
      Files.write(tmp, bytes);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    return bytes.length;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
