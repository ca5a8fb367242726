package dev.gantry.infra.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads what an engine needs from a Hugging Face Hub repo (or a mirror speaking the same API)
 * into a directory that vLLM and SGLang serve as is: the repo's file list for the requested
 * revision comes from the Hub API, files are fetched at the commit it resolved to (so a branch that
 * moves mid-download cannot mix two versions), in parallel, each resumable and verified.
 */
public final class HuggingFaceDownloader {
  private static final Logger log = LoggerFactory.getLogger(HuggingFaceDownloader.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String SAFETENSORS_INDEX = "model.safetensors.index.json";

  /** Formats an engine never reads, or reads only when nothing else is there. */
  private static final Set<String> SKIPPED =
      Set.of(
          "gguf",
          "onnx",
          "onnx_data",
          "msgpack",
          "h5",
          "ot",
          "tflite",
          "mlmodel",
          "pb",
          "ckpt",
          "md",
          "png",
          "jpg",
          "jpeg",
          "gif",
          "svg",
          "pdf",
          "gitattributes");

  private static final Set<String> TORCH_WEIGHTS = Set.of("bin", "pt", "pth");
  private static final Set<String> SUPPORT_FILES =
      Set.of("json", "model", "tiktoken", "txt", "py", "jinja", "vocab", "spm", "bpe");

  private final ModelHttp http;
  private final ResumableDownloader downloader;
  private final ParallelDownload.Settings settings;
  private final int maxFiles;

  HuggingFaceDownloader(
      ModelHttp http,
      ResumableDownloader downloader,
      ParallelDownload.Settings settings,
      int maxFiles) {
    this.http = http;
    this.downloader = downloader;
    this.settings = settings;
    this.maxFiles = maxFiles;
  }

  /** Room for a listing of {@code maxFiles} files: a sibling with its hashes is under 1 KiB. */
  private long maxListingBytes() {
    return (long) maxFiles * 1024 + (1 << 20);
  }

  /** A repo id with its revision; {@code main} when the model names none. */
  public record RepoRef(String repo, String revision) {
    public static RepoRef parse(String model) {
      int at = model.indexOf('@');
      String repo = at < 0 ? model : model.substring(0, at);
      String revision = at < 0 ? "main" : model.substring(at + 1);
      if (!repo.matches("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
          || revision.isEmpty()
          || revision.contains("..")) {
        throw new ModelException(
            FailureType.INVALID_SPEC,
            "'" + model + "' is not a Hugging Face repo id like owner/name, optionally @revision");
      }
      return new RepoRef(repo, revision);
    }

    @Override
    public String toString() {
      return repo + " at revision " + revision;
    }
  }

  /** One file of the repo listing. {@code sha256} is set for LFS files, {@code blobId} always. */
  record RepoFile(String path, long size, String blobId, String sha256) {
    ContentDigest digest() {
      return sha256 != null ? ContentDigest.sha256(sha256) : ContentDigest.gitBlob(blobId);
    }
  }

  /** What was downloaded: the commit the revision resolved to, and the files. */
  public record Snapshot(String commit, List<RepoFile> files, long bytes) {}

  /**
   * Downloads the repo into {@code modelDir}; partial files and verification markers live under
   * {@code stateDir}. Files of {@code modelDir} that the snapshot does not hold are removed.
   */
  public Snapshot download(
      RepoRef ref,
      URI endpoint,
      String token,
      Path modelDir,
      Path stateDir,
      StorageBudget budget,
      ProgressListener listener)
      throws IOException {
    var credential = Credential.bearer(endpoint, token);
    var listingTransfer = new Transfer();
    JsonNode info =
        ParallelDownload.watch(
            settings,
            listener,
            listingTransfer,
            () -> listing(ref, endpoint, credential, token != null, listingTransfer));
    String commit = info.path("sha").asText(null);
    if (commit == null || !commit.matches("[0-9a-fA-F]{40}")) {
      throw new ModelException(
          FailureType.TRANSIENT, "the Hub's listing of " + ref + " names no commit");
    }
    boolean gated = info.path("gated").isTextual() || info.path("gated").asBoolean(false);
    if (gated && token == null) {
      throw accessDenied(ref, false);
    }
    List<RepoFile> files = select(repoFiles(info));
    if (files.stream().noneMatch(f -> isWeights(f.path()))) {
      throw new ModelException(
          FailureType.INVALID_SPEC,
          ref
              + " holds no safetensors or PyTorch weights that vLLM or SGLang can serve"
              + " (GGUF, ONNX and other formats are not downloaded)");
    }
    var transfer = new Transfer();
    var failures = failures(ref, token != null);
    var index = files.stream().filter(f -> f.path().equals(SAFETENSORS_INDEX)).findFirst();
    if (index.isPresent()) {
      // The index names the shards the model loads: a repo that also carries a consolidated or
      // differently sharded copy (e.g. Mistral's consolidated.safetensors) would double the bytes.
      var indexFile = remote(index.get(), ref, endpoint, commit, modelDir, stateDir);
      try {
        // Its own transfer: the bytes are counted with everything else already on disk below.
        var indexTransfer = new Transfer();
        ParallelDownload.watch(
            settings,
            listener,
            indexTransfer,
            () -> {
              downloader.fetch(indexFile, credential, indexTransfer);
              return indexFile;
            });
      } catch (ModelException e) {
        throw e;
      } catch (IOException e) {
        throw failures.explain(indexFile, e);
      }
      files = keepIndexedShards(files, indexFile.target());
    }
    long total = files.stream().mapToLong(RepoFile::size).sum();
    List<RemoteFile> remotes = new ArrayList<>();
    for (RepoFile f : files) {
      remotes.add(remote(f, ref, endpoint, commit, modelDir, stateDir));
    }
    long onDisk = remotes.stream().mapToLong(ResumableDownloader::bytesOnDisk).sum();
    budget.check(total, onDisk, modelDir.getParent());
    removeStale(modelDir, remotes.stream().map(RemoteFile::target).collect(Collectors.toSet()));
    removeStale(
        stateDir,
        remotes.stream().flatMap(r -> Stream.of(r.part(), r.marker())).collect(Collectors.toSet()));
    transfer.add(onDisk);
    if (onDisk > 0) {
      log.info(
          "Downloading {} ({} files, {} bytes): resuming with {} bytes already on disk",
          ref,
          remotes.size(),
          total,
          onDisk);
    } else {
      log.info("Downloading {} ({} files, {} bytes)", ref, remotes.size(), total);
    }
    ParallelDownload.run(
        remotes, credential, downloader, transfer, total, settings, listener, failures);
    return new Snapshot(commit.toLowerCase(Locale.ROOT), List.copyOf(files), total);
  }

  private JsonNode listing(
      RepoRef ref, URI endpoint, Credential credential, boolean hasToken, Transfer transfer)
      throws IOException {
    URI uri =
        URI.create(
            base(endpoint)
                + "/api/models/"
                + ref.repo()
                + "/revision/"
                + URLEncoder.encode(ref.revision(), StandardCharsets.UTF_8)
                + "?blobs=true");
    JsonNode info;
    try {
      var response = ModelHttp.requireSuccess(http.get(uri, credential, Map.of()));
      try (InputStream body = new BoundedBody(response.body(), maxListingBytes(), transfer)) {
        info = MAPPER.readTree(body);
      }
    } catch (ModelHttp.StatusException e) {
      throw explainStatus(ref, e, hasToken, null);
    } catch (BoundedBody.TooLarge e) {
      throw tooManyFiles(ref);
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      // The parser's message quotes the reply; a user sees only that it was not a listing.
      log.warn(
          "The listing of {} from {} is not JSON: {}", ref, ModelHttp.hostOf(uri), e.toString());
      throw new ModelException(
          FailureType.TRANSIENT,
          "could not list " + ref + ": the model endpoint did not answer like a Hugging Face Hub");
    } catch (IOException e) {
      log.warn("Listing {} on {} failed: {}", ref, ModelHttp.hostOf(uri), e.toString());
      throw new ModelException(
          FailureType.TRANSIENT,
          "could not list " + ref + " on " + ModelHttp.hostOf(uri) + ": " + ModelHttp.userReason(e),
          e);
    }
    if (info == null || !info.isObject()) {
      throw new ModelException(
          FailureType.TRANSIENT,
          "could not list " + ref + ": the model endpoint did not answer like a Hugging Face Hub");
    }
    if (info.path("siblings").size() > maxFiles) {
      throw tooManyFiles(ref);
    }
    return info;
  }

  private ModelException tooManyFiles(RepoRef ref) {
    return new ModelException(
        FailureType.INVALID_SPEC,
        ref
            + " lists more than "
            + maxFiles
            + " files, more than this platform downloads for one model"
            + " (gantry.models.max-listing-files)");
  }

  private static List<RepoFile> repoFiles(JsonNode info) {
    List<RepoFile> files = new ArrayList<>();
    for (JsonNode s : info.path("siblings")) {
      String path = s.path("rfilename").asText(null);
      JsonNode lfs = s.path("lfs");
      String sha256 = lfs.isObject() ? lfs.path("sha256").asText(null) : null;
      long size = lfs.isObject() ? lfs.path("size").asLong(-1) : s.path("size").asLong(-1);
      String blobId = s.path("blobId").asText(null);
      if (path == null || size < 0 || sha256 == null && blobId == null) {
        throw new ModelException(
            FailureType.TRANSIENT,
            "the Hub's listing gives no size or hash for " + (path == null ? "a file" : path));
      }
      files.add(new RepoFile(path, size, blobId, sha256));
    }
    return files;
  }

  /**
   * The files an engine needs: configs, tokenizer and chat template files, custom model code, and
   * one weights format (safetensors when the repo has them, else PyTorch pickles). Hidden files,
   * Meta's {@code original/} checkpoints and other formats are skipped, and so is any path that
   * could escape the model directory.
   */
  static List<RepoFile> select(List<RepoFile> all) {
    List<RepoFile> safe = all.stream().filter(f -> safePath(f.path())).toList();
    boolean safetensors = safe.stream().anyMatch(f -> extension(f.path()).equals("safetensors"));
    List<RepoFile> chosen = new ArrayList<>();
    for (RepoFile f : safe) {
      String path = f.path();
      String name = path.substring(path.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
      String ext = extension(path);
      boolean keep;
      if (Stream.of(path.split("/")).anyMatch(seg -> seg.equals("original"))
          || SKIPPED.contains(ext)) {
        keep = false;
      } else if (ext.equals("safetensors")) {
        keep = true;
      } else if (TORCH_WEIGHTS.contains(ext)) {
        keep = !safetensors;
      } else if (name.endsWith(".bin.index.json") || name.endsWith(".pt.index.json")) {
        keep = !safetensors;
      } else {
        keep = SUPPORT_FILES.contains(ext);
      }
      if (keep) {
        chosen.add(f);
      }
    }
    return chosen;
  }

  static boolean isWeights(String path) {
    String ext = extension(path);
    return ext.equals("safetensors") || TORCH_WEIGHTS.contains(ext);
  }

  private static List<RepoFile> keepIndexedShards(List<RepoFile> files, Path index) {
    Set<String> shards = new HashSet<>();
    try {
      MAPPER.readTree(index.toFile()).path("weight_map").forEach(v -> shards.add(v.asText()));
    } catch (IOException e) {
      log.warn("Cannot read {}; downloading every safetensors file", SAFETENSORS_INDEX, e);
      return files;
    }
    if (shards.isEmpty()) {
      return files;
    }
    return files.stream()
        .filter(
            f ->
                !extension(f.path()).equals("safetensors")
                    || f.path().contains("/")
                    || shards.contains(f.path()))
        .toList();
  }

  private static String extension(String path) {
    String name = path.substring(path.lastIndexOf('/') + 1);
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  private static boolean safePath(String path) {
    if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || path.contains("//")) {
      return false;
    }
    for (String segment : path.split("/")) {
      if (segment.isEmpty() || segment.startsWith(".") || segment.chars().anyMatch(c -> c < 32)) {
        return false;
      }
    }
    return true;
  }

  private static RemoteFile remote(
      RepoFile f, RepoRef ref, URI endpoint, String commit, Path modelDir, Path stateDir) {
    String encoded =
        Stream.of(f.path().split("/"))
            .map(s -> URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"))
            .collect(Collectors.joining("/"));
    URI uri = URI.create(base(endpoint) + "/" + ref.repo() + "/resolve/" + commit + "/" + encoded);
    var digest = f.digest();
    return new RemoteFile(
        f.path(),
        uri,
        f.size(),
        digest,
        modelDir.resolve(f.path()),
        stateDir.resolve(f.path() + "." + digest.hex().substring(0, 16) + ".part"),
        stateDir.resolve(f.path() + ".verified"));
  }

  private static String base(URI endpoint) {
    String s = endpoint.toString();
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /** Removes regular files under {@code dir} that are not in {@code keep}, and empty folders. */
  static void removeStale(Path dir, Set<Path> keep) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        if (Files.isRegularFile(p) && !keep.contains(p)) {
          log.info("Removing {} from storage: not part of this model version", dir.relativize(p));
          Files.deleteIfExists(p);
        } else if (Files.isDirectory(p) && !p.equals(dir)) {
          try (Stream<Path> children = Files.list(p)) {
            if (children.findAny().isEmpty()) {
              Files.deleteIfExists(p);
            }
          }
        }
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  private ParallelDownload.Failures failures(RepoRef ref, boolean hasToken) {
    return (file, e) -> {
      if (e instanceof ModelHttp.StatusException status) {
        return explainStatus(ref, status, hasToken, file.name());
      }
      return new ModelException(
          FailureType.TRANSIENT,
          "network error downloading "
              + file.name()
              + " of "
              + ref
              + " from "
              + ModelHttp.hostOf(file.uri())
              + ": "
              + ModelHttp.userReason(e),
          e);
    };
  }

  /**
   * The Hub answers 401 for a gated repo without a token and for a private or missing one alike (it
   * does not reveal which exists), telling them apart only by {@code X-Error-Code}.
   */
  static ModelException explainStatus(
      RepoRef ref, ModelHttp.StatusException e, boolean hasToken, String file) {
    int status = e.status();
    String code = e.errorCode();
    if ((status == 401 || status == 403) && "RepoNotFound".equals(code) && !hasToken) {
      return new ModelException(
          FailureType.MODEL_NOT_FOUND,
          "model not found: "
              + ref
              + " (if it is private, add an HF_TOKEN with access to it in the deployment's env)");
    }
    if (status == 401 || status == 403) {
      return accessDenied(ref, hasToken);
    }
    if (status == 404 && "EntryNotFound".equals(code) && file != null) {
      return new ModelException(
          FailureType.MODEL_NOT_FOUND, "model file " + file + " not found in " + ref);
    }
    if (status == 404 || status == 410) {
      return new ModelException(FailureType.MODEL_NOT_FOUND, "model not found: " + ref);
    }
    if (e.retryable()) {
      return new ModelException(
          FailureType.TRANSIENT,
          "the model endpoint answered HTTP "
              + status
              + " for "
              + (file == null ? ref.toString() : file + " of " + ref),
          e);
    }
    // The host's error code is not quoted: it is whatever a foreign server chose to send.
    return new ModelException(
        FailureType.INVALID_SPEC, "the model endpoint refused " + ref + " with HTTP " + status);
  }

  static ModelException accessDenied(RepoRef ref, boolean hasToken) {
    return new ModelException(
        FailureType.MODEL_ACCESS_DENIED,
        hasToken
            ? ref.repo()
                + " is gated or private and the deployment's HF_TOKEN has no access to it:"
                + " accept the model's terms on Hugging Face with that account, or add an"
                + " HF_TOKEN with access to it in the deployment's env"
            : ref.repo()
                + " is gated or private: add an HF_TOKEN with access to it in the deployment's"
                + " env");
  }
}
