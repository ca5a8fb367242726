package dev.gantry.infra.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stand-in for the Hugging Face Hub: the model info API with {@code blobs=true}, {@code resolve}
 * downloads with the Hub's etag headers, LFS files redirected to a CDN on another origin (a second
 * server), gated and private repos, and faults: a transfer cut off halfway, a server that ignores
 * {@code Range}, a file whose bytes do not match its listing. It records every request.
 */
final class FakeHub implements AutoCloseable {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

  /** One request as the server saw it. */
  record Request(String server, String path, String range, String authorization) {}

  static final class Repo {
    final String id;
    final String commit;
    final Map<String, byte[]> files = new LinkedHashMap<>();
    final Set<String> lfs = ConcurrentHashMap.newKeySet();
    final Map<String, Long> listedSize = new ConcurrentHashMap<>();
    String gated; // null, "manual"
    boolean isPrivate;

    Repo(String id, String commit) {
      this.id = id;
      this.commit = commit;
    }

    Repo file(String path, byte[] content) {
      files.put(path, content);
      return this;
    }

    Repo file(String path, String content) {
      return file(path, content.getBytes(StandardCharsets.UTF_8));
    }

    Repo lfsFile(String path, byte[] content) {
      lfs.add(path);
      return file(path, content);
    }
  }

  private final HttpServer hub;
  private final HttpServer cdn;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final Map<String, Repo> repos = new ConcurrentHashMap<>();
  private final Map<String, Repo> byCommit = new ConcurrentHashMap<>();
  final List<Request> requests = new CopyOnWriteArrayList<>();
  final Map<String, AtomicLong> bytesServed = new ConcurrentHashMap<>();

  /** Paths whose next full (non-range) transfer stops halfway; the count says how many times. */
  final Map<String, Integer> cutOffs = new ConcurrentHashMap<>();

  /** Paths served with one byte changed: they fail verification. */
  final Set<String> corrupt = ConcurrentHashMap.newKeySet();

  volatile boolean ignoreRange;

  /** When set, the listing answers 200 with these bytes instead of the repo's JSON. */
  volatile byte[] rawListing;

  /** When set, the listing (and files, with {@link #trickleFiles}) go out a byte at a time. */
  volatile java.time.Duration trickleListing;

  volatile java.time.Duration trickleFiles;
  volatile String validToken;

  FakeHub() throws IOException {
    var loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    hub = HttpServer.create(loopback, 64);
    cdn = HttpServer.create(loopback, 64);
    hub.setExecutor(executor);
    cdn.setExecutor(executor);
    hub.createContext("/", this::hub);
    cdn.createContext("/", this::cdn);
    hub.start();
    cdn.start();
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
  }

  private URI cdnBase() {
    return URI.create("http://127.0.0.1:" + cdn.getAddress().getPort());
  }

  Repo repo(String id, String commit) {
    var repo = new Repo(id, commit);
    repos.put(id, repo);
    byCommit.put(commit, repo);
    return repo;
  }

  List<Request> requestsFor(String pathSuffix) {
    return requests.stream().filter(r -> r.path().endsWith(pathSuffix)).toList();
  }

  long served(String path) {
    var n = bytesServed.get(path);
    return n == null ? 0 : n.get();
  }

  static String sha256(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String gitBlobSha1(byte[] content) {
    try {
      var md = MessageDigest.getInstance("SHA-1");
      md.update(("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(md.digest(content));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private void hub(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getRawPath();
    record(ex, "hub", path);
    try (ex) {
      if (path.startsWith("/api/models/")) {
        info(ex, path.substring("/api/models/".length()));
        return;
      }
      // /{owner}/{name}/resolve/{commit}/{file...}
      String[] parts = path.substring(1).split("/", 5);
      if (parts.length < 5 || !parts[2].equals("resolve")) {
        error(ex, 404, "EntryNotFound");
        return;
      }
      Repo repo = repos.get(parts[0] + "/" + parts[1]);
      if (repo == null) {
        error(ex, 404, "RepoNotFound");
        return;
      }
      if (!authorized(ex, repo)) {
        return;
      }
      if (!repo.commit.equals(parts[3])) {
        error(ex, 404, "RevisionNotFound");
        return;
      }
      String file = java.net.URLDecoder.decode(parts[4], StandardCharsets.UTF_8);
      byte[] content = repo.files.get(file);
      if (content == null) {
        error(ex, 404, "EntryNotFound");
        return;
      }
      ex.getResponseHeaders().add("X-Repo-Commit", repo.commit);
      if (repo.lfs.contains(file)) {
        ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha256(content) + "\"");
        ex.getResponseHeaders().add("X-Linked-Size", Long.toString(content.length));
        ex.getResponseHeaders()
            .add("Location", cdnBase() + "/cdn/" + repo.commit + "/" + parts[4] + "?X-Amz-Sig=s");
        ex.sendResponseHeaders(302, -1);
        return;
      }
      ex.getResponseHeaders().add("ETag", "\"" + gitBlobSha1(content) + "\"");
      serve(ex, file, content);
    }
  }

  private void cdn(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getRawPath();
    record(ex, "cdn", path);
    try (ex) {
      String[] parts = path.substring(1).split("/", 3);
      Repo repo = parts.length == 3 ? byCommit.get(parts[1]) : null;
      String file =
          parts.length == 3 ? java.net.URLDecoder.decode(parts[2], StandardCharsets.UTF_8) : null;
      if (repo == null || !repo.files.containsKey(file)) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      ex.getResponseHeaders().add("ETag", "\"s3-multipart-etag-7\"");
      serve(ex, file, repo.files.get(file));
    }
  }

  private void record(HttpExchange ex, String server, String path) {
    requests.add(
        new Request(
            server,
            path,
            ex.getRequestHeaders().getFirst("Range"),
            ex.getRequestHeaders().getFirst("Authorization")));
  }

  private boolean authorized(HttpExchange ex, Repo repo) throws IOException {
    if (repo.gated == null && !repo.isPrivate) {
      return true;
    }
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    if (validToken != null && ("Bearer " + validToken).equals(auth)) {
      return true;
    }
    if (repo.isPrivate) {
      error(ex, auth == null ? 401 : 404, "RepoNotFound");
    } else {
      error(ex, auth == null ? 401 : 403, "GatedRepo");
    }
    return false;
  }

  private void info(HttpExchange ex, String rest) throws IOException {
    // {owner}/{name}/revision/{rev}
    String[] parts = rest.split("/", 4);
    Repo repo = parts.length == 4 ? repos.get(parts[0] + "/" + parts[1]) : null;
    if (repo == null) {
      error(
          ex, ex.getRequestHeaders().getFirst("Authorization") == null ? 401 : 404, "RepoNotFound");
      return;
    }
    if (repo.isPrivate && !authorized(ex, repo)) {
      return;
    }
    if (rawListing != null) {
      ex.sendResponseHeaders(200, rawListing.length);
      ex.getResponseBody().write(rawListing);
      return;
    }
    String revision = java.net.URLDecoder.decode(parts[3], StandardCharsets.UTF_8);
    if (!revision.equals("main") && !revision.equals(repo.commit)) {
      error(ex, 404, "RevisionNotFound");
      return;
    }
    var siblings = new ArrayList<Map<String, Object>>();
    repo.files.forEach(
        (path, content) -> {
          var s = new LinkedHashMap<String, Object>();
          s.put("rfilename", path);
          long size = repo.listedSize.getOrDefault(path, (long) content.length);
          s.put("size", size);
          s.put("blobId", gitBlobSha1(content));
          if (repo.lfs.contains(path)) {
            s.put("lfs", Map.of("sha256", sha256(content), "size", size, "pointerSize", 134));
          }
          siblings.add(s);
        });
    var body = new LinkedHashMap<String, Object>();
    body.put("id", repo.id);
    body.put("sha", repo.commit);
    body.put("private", repo.isPrivate);
    body.put("gated", repo.gated == null ? false : repo.gated);
    body.put("siblings", siblings);
    byte[] json = MAPPER.writeValueAsBytes(body);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(200, json.length);
    trickle(ex.getResponseBody(), json, 0, json.length, trickleListing);
  }

  /** Writes a range of bytes, one at a time with a pause between them when {@code pace} is set. */
  private static void trickle(
      OutputStream out, byte[] content, int from, int to, java.time.Duration pace)
      throws IOException {
    if (pace == null) {
      out.write(content, from, to - from);
      return;
    }
    for (int i = from; i < to; i++) {
      out.write(content[i]);
      out.flush();
      try {
        Thread.sleep(pace);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("stopped");
      }
    }
  }

  private void serve(HttpExchange ex, String file, byte[] content) throws IOException {
    if (corrupt.contains(file)) {
      content = content.clone();
      content[content.length / 2] ^= 0x5a;
    }
    int from = 0;
    String range = ex.getRequestHeaders().getFirst("Range");
    Matcher m = range == null ? null : RANGE.matcher(range);
    if (m != null && m.matches() && !ignoreRange) {
      from = Integer.parseInt(m.group(1));
      if (from >= content.length) {
        ex.getResponseHeaders().add("Content-Range", "bytes */" + content.length);
        ex.sendResponseHeaders(416, -1);
        return;
      }
      ex.getResponseHeaders()
          .add(
              "Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
      ex.sendResponseHeaders(206, content.length - from);
    } else {
      ex.sendResponseHeaders(200, content.length);
    }
    int end = content.length;
    Integer cuts = cutOffs.get(file);
    if (from == 0 && cuts != null && cuts > 0) {
      cutOffs.put(file, cuts - 1);
      end = content.length / 2;
    }
    OutputStream out = ex.getResponseBody();
    int chunk = 256 * 1024;
    for (int i = from; i < end; i += chunk) {
      int n = Math.min(chunk, end - i);
      trickle(out, content, i, i + n, trickleFiles);
      bytesServed.computeIfAbsent(file, k -> new AtomicLong()).addAndGet(n);
    }
    if (end < content.length) {
      out.flush();
      // Closing the connection mid-body: the client sees fewer bytes than Content-Length.
      throw new IOException("cut off on purpose");
    }
  }

  private static void error(HttpExchange ex, int status, String code) throws IOException {
    byte[] body = ("{\"error\":\"" + code + "\"}").getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("X-Error-Code", code);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, body.length);
    ex.getResponseBody().write(body);
  }

  @Override
  public void close() {
    hub.stop(0);
    cdn.stop(0);
    executor.shutdownNow();
  }
}
