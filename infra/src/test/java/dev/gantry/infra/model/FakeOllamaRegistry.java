package dev.gantry.infra.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A stand-in for the Ollama registry: {@code /v2/<ns>/<name>/manifests/<tag>} answering a Docker v2
 * manifest, and {@code /v2/<ns>/<name>/blobs/<digest>} redirecting to a blob store, as the real one
 * redirects to its CDN. A blob may be served with bytes that do not match its digest.
 */
final class FakeOllamaRegistry implements AutoCloseable {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  static final String MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

  record Model(byte[] manifest, Map<String, byte[]> blobs) {}

  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final Map<String, Model> models = new ConcurrentHashMap<>();
  private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
  final Map<String, byte[]> tampered = new ConcurrentHashMap<>();
  final List<String> requests = new CopyOnWriteArrayList<>();
  final List<String> accepts = new CopyOnWriteArrayList<>();

  FakeOllamaRegistry() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  URI base() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  /** Publishes {@code ns/name:tag} with a config blob and the given layers (media type → bytes). */
  Model publish(String ns, String name, String tag, Map<String, byte[]> layers) throws IOException {
    byte[] config = ("{\"model_family\":\"" + name + "\",\"file_type\":\"Q4_K_M\"}").getBytes();
    var blobMap = new LinkedHashMap<String, byte[]>();
    var manifest = new LinkedHashMap<String, Object>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", MANIFEST_TYPE);
    manifest.put("config", descriptor("application/vnd.docker.container.image.v1+json", config));
    blobMap.put(digest(config), config);
    var layerList = new ArrayList<Map<String, Object>>();
    layers.forEach(
        (type, content) -> {
          layerList.add(descriptor(type, content));
          blobMap.put(digest(content), content);
        });
    manifest.put("layers", layerList);
    var model = new Model(MAPPER.writeValueAsBytes(manifest), blobMap);
    models.put(ns + "/" + name + ":" + tag, model);
    blobs.putAll(blobMap);
    return model;
  }

  static String digest(byte[] content) {
    return "sha256:" + FakeHub.sha256(content);
  }

  private static Map<String, Object> descriptor(String type, byte[] content) {
    var d = new LinkedHashMap<String, Object>();
    d.put("mediaType", type);
    d.put("digest", digest(content));
    d.put("size", content.length);
    return d;
  }

  private void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getRawPath();
    requests.add(path);
    try (ex) {
      if (path.startsWith("/store/")) {
        String digest = path.substring("/store/".length());
        byte[] content = tampered.getOrDefault(digest, blobs.get(digest));
        if (content == null) {
          ex.sendResponseHeaders(404, -1);
          return;
        }
        ex.sendResponseHeaders(200, content.length);
        ex.getResponseBody().write(content);
        return;
      }
      // /v2/{ns}/{name}/{manifests|blobs}/{ref}
      String[] parts = path.substring(1).split("/");
      if (parts.length != 5 || !parts[0].equals("v2")) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      if (parts[3].equals("manifests")) {
        accepts.add(String.valueOf(ex.getRequestHeaders().getFirst("Accept")));
        var model = models.get(parts[1] + "/" + parts[2] + ":" + parts[4]);
        if (model == null) {
          byte[] body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".getBytes();
          ex.sendResponseHeaders(404, body.length);
          ex.getResponseBody().write(body);
          return;
        }
        ex.getResponseHeaders().add("Content-Type", MANIFEST_TYPE);
        ex.sendResponseHeaders(200, model.manifest().length);
        ex.getResponseBody().write(model.manifest());
      } else if (parts[3].equals("blobs") && blobs.containsKey(parts[4])) {
        ex.getResponseHeaders().add("Location", base() + "/store/" + parts[4]);
        ex.sendResponseHeaders(307, -1);
      } else {
        ex.sendResponseHeaders(404, -1);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
