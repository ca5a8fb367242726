package dev.gantry.app;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.infra.auth.ApiKeys;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The real platform jar as a child process with the embedded default, for end-to-end tests: its own
 * data dir, free ports and admin key, HTTP helpers, and a close that leaves no process behind (the
 * platform, and every engine it started, even one orphaned by a simulated crash).
 */
final class PlatformProcess implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String SIM_AOT_CACHE = "gantry.runtime.local.sim-aot-cache";

  private static final Path JAR = Path.of("target/gantry.jar").toAbsolutePath();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  String key = ApiKeys.newKey();
  final Path dataDir;
  final int port;
  final int temporalPort;
  private final List<String> settings;
  private final List<String> jvmOptions = new ArrayList<>();
  private final Set<Long> engines = ConcurrentHashMap.newKeySet();
  private Process process;

  /**
   * @param name names the data dir (a fresh one under the temporary directory, kept for reading
   *     after a failure)
   * @param settings extra {@code --name=value} settings for the platform
   */
  PlatformProcess(String name, String... settings) throws IOException {
    // A fresh directory under the temporary one, not under target/: engines run as their own uids
    // when the tests run as root, and must reach the data dir wherever the checkout lies.
    this.dataDir = Files.createTempDirectory("gantry-it-" + name + "-");
    this.port = freePort();
    this.temporalPort = freePort();
    this.settings = List.of(settings);
  }

  /** The admin key to start with, shared by processes of one cluster; before {@link #start}. */
  PlatformProcess withApiKey(String apiKey) {
    this.key = apiKey;
    return this;
  }

  /** JVM options for the platform's process (e.g. {@code -Xmx512m}); before {@link #start}. */
  PlatformProcess withJvmOptions(String... options) {
    jvmOptions.addAll(List.of(options));
    return this;
  }

  /** Starts the platform and waits until it is ready. */
  PlatformProcess start() throws Exception {
    launch();
    // Keys are checked from memory: ready for callers once the key cache has them.
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> get("/api/v1/deployments").statusCode() == 200);
    return this;
  }

  /** Starts a platform that has no gateway role, and waits until it is ready. */
  PlatformProcess startWithoutGateway() throws Exception {
    launch();
    return this;
  }

  private void launch() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    var command = new ArrayList<>(List.of(java));
    command.addAll(jvmOptions);
    command.addAll(List.of("-jar", JAR.toString()));
    command.add("--server.port=" + port);
    command.add("--gantry.data-dir=" + dataDir);
    command.add("--gantry.temporal.embedded-port=" + temporalPort);
    if (settings.stream().noneMatch(s -> s.startsWith("--" + SIM_AOT_CACHE))) {
      // Each platform would train its own cache of the simulator in the background (3-4 s of
      // CPU): off, but for the tests that turn it on (ColdStartIT).
      command.add("--" + SIM_AOT_CACHE + "=false");
    }
    command.addAll(settings);
    var pb = new ProcessBuilder(command);
    pb.environment().put("GANTRY_API_KEY", key);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("platform.out").toFile()));
    process = pb.start();
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(() -> get("/readyz").statusCode() == 200);
  }

  /** Kills the platform's JVM alone, as a crash would: its engines are left running. */
  void crash() throws InterruptedException {
    enginePids();
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  /** Stops the platform as Ctrl-C or systemd would (SIGTERM); true when it exited in time. */
  boolean stop(Duration within) throws InterruptedException {
    enginePids();
    process.destroy();
    return process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Every engine this platform was seen to run, alive or not. */
  Set<Long> enginesSeen() {
    return Set.copyOf(engines);
  }

  /** Engines the platform started that are alive now; every one seen is remembered. */
  List<Long> enginePids() {
    var pids =
        process.descendants().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).toList();
    engines.addAll(pids);
    return pids;
  }

  /** The engine's own {@code /metrics} text, read from the port on its command line. */
  static String engineMetrics(long pid) throws Exception {
    var args = ProcessHandle.of(pid).flatMap(p -> p.info().arguments()).orElseThrow();
    String port = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--port") && i + 1 < args.length) {
        port = args[i + 1];
      } else if (args[i].startsWith("--port=")) {
        port = args[i].substring("--port=".length());
      }
    }
    return HTTP.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** The sum of a counter over its labels, from Prometheus text. */
  static double counter(String metrics, String name) {
    double sum = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  HttpResponse<String> get(String path) throws Exception {
    return send(request(path).GET(), key);
  }

  HttpResponse<String> get(String path, String apiKey) throws Exception {
    return send(request(path).GET(), apiKey);
  }

  HttpResponse<String> delete(String path) throws Exception {
    return send(request(path).DELETE(), key);
  }

  HttpResponse<String> post(String path, Object body) throws Exception {
    return post(path, body, Map.of());
  }

  HttpResponse<String> post(String path, Object body, Map<String, String> headers)
      throws Exception {
    var request =
        request(path)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
    headers.forEach(request::header);
    return send(request, key);
  }

  /** Waits until the deployment {@code id} shows {@code status}, for at most {@code within}. */
  void awaitStatus(String id, String status, Duration within) {
    await()
        .atMost(within)
        .until(() -> json(get("/api/v1/deployments/" + id)).get("status").asText().equals(status));
  }

  static JsonNode json(HttpResponse<String> response) {
    try {
      return JSON.readTree(response.body());
    } catch (IOException e) {
      throw new IllegalStateException("not JSON: " + response.body(), e);
    }
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(30));
  }

  static HttpResponse<String> send(HttpRequest.Builder request, String apiKey) throws Exception {
    return HTTP.send(
        request.header("Authorization", "Bearer " + apiKey).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static int freePort() throws IOException {
    try (var socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    if (process != null && process.isAlive()) {
      enginePids();
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }
    engines.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
  }
}
