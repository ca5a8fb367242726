package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.storage.LocalStorage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The real application on its embedded default: the port-bound Temporal server, H2 in a data dir,
 * the real workflow and activities. A {@code sim} deployment goes to running and is deleted.
 */
@SpringBootTest(
    classes = GantryApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    // Fixed rather than dynamic: the log file is set up before dynamic properties exist. Under the
    // temporary directory, not target/: engines run as their own uids when the tests run as root,
    // and must reach the data dir wherever the checkout lies (a checkout under /root would not do).
    properties = "gantry.data-dir=${java.io.tmpdir}/" + GantryEndToEndIT.DATA_DIR)
class GantryEndToEndIT {
  static final String ADMIN_KEY = ApiKeys.newKey();
  static final String SECRET = "hf_e2e-secret-that-must-stay-encrypted";
  static final String DATA_DIR = "gantry-e2e-data";
  static final Path dataDir = Path.of(System.getProperty("java.io.tmpdir"), DATA_DIR);

  @BeforeAll
  static void freshDataDir() {
    LocalStorage.deleteTree(dataDir);
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    int temporalPort;
    try (var socket = new ServerSocket(0)) {
      temporalPort = socket.getLocalPort();
    }
    registry.add("gantry.temporal.embedded-port", () -> temporalPort);
    registry.add("GANTRY_API_KEY", () -> ADMIN_KEY);
    // A stand-in Hugging Face Hub for which every repo is gated: the machine has no internet, and
    // a gated model without HF_TOKEN is the failure a user must be told how to fix.
    gatedHub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
    gatedHub.createContext(
        "/",
        exchange -> {
          try (exchange) {
            exchange.getResponseHeaders().add("X-Error-Code", "GatedRepo");
            exchange.sendResponseHeaders(401, -1);
          }
        });
    gatedHub.start();
    registry.add(
        "gantry.models.hf-endpoint", () -> "http://127.0.0.1:" + gatedHub.getAddress().getPort());
  }

  static HttpServer gatedHub;

  @AfterAll
  static void stopHub() {
    if (gatedHub != null) {
      gatedHub.stop(0);
    }
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired DeploymentRepository deployments;

  WebTestClient http() {
    return WebTestClient.bindToServer()
        .baseUrl("http://localhost:" + port)
        .responseTimeout(Duration.ofSeconds(30))
        .build();
  }

  String status(String key, String id) {
    var body =
        http()
            .get()
            .uri("/api/v1/deployments/" + id)
            .header("Authorization", "Bearer " + key)
            .exchange()
            .expectStatus()
            .isOk()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    return (String) body.get("status");
  }

  @Test
  void simDeploymentGoesToRunningIsIsolatedAndIsDeletedCleanly() throws IOException {
    http()
        .get()
        .uri("/readyz")
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.checks.database")
        .isEqualTo("up")
        .jsonPath("$.checks.temporal")
        .isEqualTo("up");

    var created =
        http()
            .post()
            .uri("/api/v1/deployments")
            .header("Authorization", "Bearer " + ADMIN_KEY)
            .contentType(MediaType.APPLICATION_JSON)
            .bodyValue(
                Map.of(
                    "name",
                    "e2e",
                    "model",
                    "tiny-e2e",
                    "framework",
                    "sim",
                    "env",
                    Map.of("HF_TOKEN", SECRET)))
            .exchange()
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    String id = (String) created.get("id");

    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> status(ADMIN_KEY, id), "running"::equals);
    Path storage = dataDir.resolve("storage").resolve(id);
    assertThat(storage.resolve("model").resolve("gantry-model.json"))
        .content()
        .contains("tiny-e2e");

    String other = apiKeys.issue("other-tenant", "e2e", false).key();
    http()
        .get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + other)
        .exchange()
        .expectStatus()
        .isNotFound();

    http()
        .patch()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + ADMIN_KEY)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(Map.of("idle_timeout_seconds", 42))
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody()
        .jsonPath("$.idle_timeout_seconds")
        .isEqualTo(42);

    http()
        .delete()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + ADMIN_KEY)
        .exchange()
        .expectStatus()
        .isAccepted();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> status(ADMIN_KEY, id), "deleted"::equals);
    assertThat(storage).doesNotExist();
    assertThat(deployments.findById(id).orElseThrow().secretId())
        .as("a deleted deployment's encrypted env is removed")
        .isNull();
    http()
        .delete()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + ADMIN_KEY)
        .exchange()
        .expectStatus()
        .isAccepted();

    // The env value is nowhere in plaintext: not in the database files, the key files or the log.
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dataDir)) {
      files = walk.filter(Files::isRegularFile).toList();
    }
    assertThat(files)
        .anyMatch(f -> f.toString().endsWith(".log"))
        .anyMatch(f -> f.toString().endsWith(".mv.db"));
    for (Path file : files) {
      assertThat(new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1))
          .as(file.toString())
          .doesNotContain(SECRET);
    }
  }

  @Test
  void aVllmDeploymentFailsWithAReasonAndCleansUp() {
    var created =
        http()
            .post()
            .uri("/api/v1/deployments")
            .header("Authorization", "Bearer " + ADMIN_KEY)
            .contentType(MediaType.APPLICATION_JSON)
            .bodyValue(
                Map.of(
                    "name",
                    "real",
                    "model",
                    "Qwen/Qwen2.5-0.5B-Instruct",
                    "framework",
                    "vllm",
                    "gpu",
                    Map.of("type", "L4")))
            .exchange()
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    String id = (String) created.get("id");
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> status(ADMIN_KEY, id), "failed"::equals);
    http()
        .get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + ADMIN_KEY)
        .exchange()
        .expectBody()
        .jsonPath("$.status_reason")
        .value(
            r ->
                assertThat((String) r)
                    .isEqualTo(
                        "model download failed: Qwen/Qwen2.5-0.5B-Instruct is gated or private:"
                            + " add an HF_TOKEN with access to it in the deployment's env"));
    assertThat(dataDir.resolve("storage").resolve(id)).doesNotExist();
  }
}
