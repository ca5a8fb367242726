package dev.gantry.infra.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pulls an Ollama model from its registry into an {@code OLLAMA_MODELS} directory laid out as
 * {@code ollama pull} would leave it ({@code manifests/<host>/<namespace>/<name>/<tag>} and {@code
 * blobs/sha256-<hex>}), so a worker's {@code ollama serve} finds the model and never pulls. Blobs
 * are verified against their digest; the manifest is written last, which makes the model visible to
 * Ollama only once every blob it names is in place.
 */
public final class OllamaPuller {
  private static final Logger log = LoggerFactory.getLogger(OllamaPuller.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();
  static final String DEFAULT_HOST = "registry.ollama.ai";
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
  private static final String ACCEPT =
      "application/vnd.docker.distribution.manifest.v2+json,"
          + " application/vnd.oci.image.manifest.v1+json";

  private final ModelHttp http;
  private final ResumableDownloader downloader;
  private final ParallelDownload.Settings settings;

  OllamaPuller(ModelHttp http, ResumableDownloader downloader, ParallelDownload.Settings settings) {
    this.http = http;
    this.downloader = downloader;
    this.settings = settings;
  }

  /**
   * A model name as Ollama reads it: {@code [host/][namespace/]name[:tag]}, with host {@code
   * registry.ollama.ai}, namespace {@code library} and tag {@code latest} when left out.
   */
  public record ModelRef(String host, String namespace, String name, String tag) {
    private static final Pattern PART = Pattern.compile("[a-z0-9][a-z0-9._-]*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public static ModelRef parse(String model) {
      int colon = model.lastIndexOf(':');
      String path = colon < 0 ? model : model.substring(0, colon);
      String tag = colon < 0 ? "latest" : model.substring(colon + 1);
      String[] parts = path.split("/", -1);
      ModelRef ref =
          switch (parts.length) {
            case 1 -> new ModelRef(DEFAULT_HOST, "library", parts[0], tag);
            case 2 -> new ModelRef(DEFAULT_HOST, parts[0], parts[1], tag);
            case 3 -> new ModelRef(parts[0], parts[1], parts[2], tag);
            default -> null;
          };
      if (ref == null
          || !PART.matcher(ref.namespace).matches()
          || !PART.matcher(ref.name).matches()
          || !ref.host.matches("[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?")
          || !TAG.matcher(tag).matches()
          || ref.name.equals("..")
          || ref.namespace.equals("..")) {
        throw new ModelException(
            FailureType.INVALID_SPEC, "'" + model + "' is not an Ollama model like qwen2.5:7b");
      }
      return ref;
    }

    /** The name users and the engine use for it. */
    public String display() {
      String prefix = host.equals(DEFAULT_HOST) ? "" : host + "/";
      String ns = namespace.equals("library") && prefix.isEmpty() ? "" : namespace + "/";
      return prefix + ns + name + ":" + tag;
    }

    Path manifestPath(Path ollamaDir) {
      return ollamaDir
          .resolve("manifests")
          .resolve(host)
          .resolve(namespace)
          .resolve(name)
          .resolve(tag);
    }
  }

  /** What was pulled: the manifest's blobs and their total size. */
  public record Pulled(Path manifest, List<String> digests, long bytes) {}

  /**
   * @param registry the configured registry, used for models on {@code registry.ollama.ai}; a model
   *     naming another host is pulled from that host over HTTPS
   */
  private static final long MAX_MANIFEST_BYTES = 4L << 20;

  public Pulled pull(
      ModelRef ref,
      URI registry,
      Path ollamaDir,
      Path stateDir,
      StorageBudget budget,
      ProgressListener listener)
      throws IOException {
    String base =
        ref.host().equals(DEFAULT_HOST) ? trimSlash(registry.toString()) : "https://" + ref.host();
    String repoPath = base + "/v2/" + ref.namespace() + "/" + ref.name();
    URI manifestUri = URI.create(repoPath + "/manifests/" + ref.tag());
    byte[] manifestBytes;
    try {
      var manifestTransfer = new Transfer();
      // Watched like a file: a registry that trickles the manifest must not hold the activity.
      manifestBytes =
          ParallelDownload.watch(
              settings,
              listener,
              manifestTransfer,
              () -> {
                var response =
                    ModelHttp.requireSuccess(http.get(manifestUri, null, Map.of("Accept", ACCEPT)));
                try (InputStream body =
                    new BoundedBody(response.body(), MAX_MANIFEST_BYTES, manifestTransfer)) {
                  return body.readAllBytes();
                }
              });
    } catch (ModelHttp.StatusException e) {
      throw explain(ref, e);
    } catch (IOException e) {
      throw new ModelException(
          FailureType.TRANSIENT,
          "could not fetch the manifest of "
              + ref.display()
              + " from "
              + ModelHttp.hostOf(manifestUri)
              + ": "
              + ModelHttp.userReason(e),
          e);
    }
    Map<String, Long> blobs = blobsOf(ref, manifestBytes);
    long total = blobs.values().stream().mapToLong(Long::longValue).sum();
    Path blobDir = ollamaDir.resolve("blobs");
    List<RemoteFile> remotes = new ArrayList<>();
    blobs.forEach(
        (digest, size) -> {
          String hex = digest.substring("sha256:".length());
          remotes.add(
              new RemoteFile(
                  digest,
                  URI.create(repoPath + "/blobs/" + digest),
                  size,
                  ContentDigest.sha256(hex),
                  blobDir.resolve("sha256-" + hex),
                  stateDir.resolve("sha256-" + hex + ".part"),
                  null));
        });
    long onDisk = remotes.stream().mapToLong(ResumableDownloader::bytesOnDisk).sum();
    budget.check(total, onDisk, ollamaDir.getParent());
    var transfer = new Transfer();
    transfer.add(onDisk);
    log.info(
        "Pulling {} ({} blobs, {} bytes, {} already on disk)",
        ref.display(),
        remotes.size(),
        total,
        onDisk);
    ParallelDownload.run(
        remotes,
        null,
        downloader,
        transfer,
        total,
        settings,
        listener,
        (file, e) ->
            e instanceof ModelHttp.StatusException status
                ? explain(ref, status)
                : new ModelException(
                    FailureType.TRANSIENT,
                    "network error pulling "
                        + file.name()
                        + " of "
                        + ref.display()
                        + " from "
                        + ModelHttp.hostOf(file.uri())
                        + ": "
                        + ModelHttp.userReason(e),
                    e));
    Path manifest = ref.manifestPath(ollamaDir);
    Files.createDirectories(manifest.getParent());
    Path tmp = Files.createTempFile(manifest.getParent(), ".tmp-", ".manifest");
    try {
      Files.write(tmp, manifestBytes);
      Files.move(
          tmp, manifest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    return new Pulled(manifest, List.copyOf(blobs.keySet()), total);
  }

  /** The config and layer blobs a manifest names, each with its size. */
  private static Map<String, Long> blobsOf(ModelRef ref, byte[] manifestBytes) {
    JsonNode manifest;
    try {
      manifest = MAPPER.readTree(manifestBytes);
    } catch (IOException e) {
      throw new ModelException(
          FailureType.TRANSIENT, "the registry sent a malformed manifest for " + ref.display());
    }
    List<JsonNode> entries = new ArrayList<>();
    if (manifest.path("config").isObject()) {
      entries.add(manifest.path("config"));
    }
    manifest.path("layers").forEach(entries::add);
    Map<String, Long> blobs = new LinkedHashMap<>();
    for (JsonNode entry : entries) {
      String digest = entry.path("digest").asText("");
      long size = entry.path("size").asLong(-1);
      if (!DIGEST.matcher(digest).matches() || size < 0) {
        throw new ModelException(
            FailureType.TRANSIENT,
            "the registry's manifest for "
                + ref.display()
                + " names a blob without a sha256 digest and size");
      }
      blobs.put(digest, size);
    }
    if (manifest.path("layers").isEmpty()) {
      throw new ModelException(
          FailureType.TRANSIENT, "the registry's manifest for " + ref.display() + " has no layers");
    }
    return blobs;
  }

  private static ModelException explain(ModelRef ref, ModelHttp.StatusException e) {
    return switch (e.status()) {
      case 404, 410 ->
          new ModelException(
              FailureType.MODEL_NOT_FOUND,
              "model not found: " + ref.display() + " is not in the Ollama registry");
      case 401, 403 ->
          new ModelException(
              FailureType.MODEL_ACCESS_DENIED,
              "the Ollama registry refused access to "
                  + ref.display()
                  + " (HTTP "
                  + e.status()
                  + ")");
      default ->
          new ModelException(
              e.retryable() ? FailureType.TRANSIENT : FailureType.INVALID_SPEC,
              "the Ollama registry answered HTTP " + e.status() + " for " + ref.display(),
              e);
    };
  }

  private static String trimSlash(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }
}
