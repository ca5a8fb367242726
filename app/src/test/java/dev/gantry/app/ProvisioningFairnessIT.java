package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.storage.LocalStorage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * A Hub that answers the listing at one byte a second, used by many deployments of one tenant: that
 * tenant gets only its share of downloads (the rest wait, saying so), another tenant's {@code sim}
 * deployment is running within seconds, and deleting a deployment whose download trickles ends
 * {@code deleted} promptly.
 */
@SpringBootTest(
    classes = GantryApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "gantry.data-dir=" + ProvisioningFairnessIT.DATA_DIR,
      "gantry.models.max-downloads-per-tenant=2",
      // Longer than the test: the trickling attempts stay in progress (and hold their slots).
      "gantry.models.rate-window=5m"
    })
class ProvisioningFairnessIT {
  static final String ADMIN_KEY = ApiKeys.newKey();
  static final String DATA_DIR = "target/fairness-data";
  static final Path dataDir = Path.of(DATA_DIR).toAbsolutePath();
  static final AtomicInteger listingsOpen = new AtomicInteger();
  static final AtomicInteger mostListingsOpen = new AtomicInteger();
  static HttpServer slowHub;

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
    slowHub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    slowHub.setExecutor(Executors.newCachedThreadPool());
    slowHub.createContext(
        "/",
        exchange -> {
          mostListingsOpen.accumulateAndGet(listingsOpen.incrementAndGet(), Math::max);
          try (exchange) {
            exchange.sendResponseHeaders(200, 0);
            var out = exchange.getResponseBody();
            for (int i = 0; i < 600; i++) {
              out.write(' ');
              out.flush();
              Thread.sleep(1000);
            }
          } catch (InterruptedException | IOException e) {
            // The client gave up on the trickle, as it should.
          } finally {
            listingsOpen.decrementAndGet();
          }
        });
    slowHub.start();
    registry.add(
        "gantry.models.hf-endpoint", () -> "http://127.0.0.1:" + slowHub.getAddress().getPort());
  }

  @AfterAll
  static void stopHub() {
    if (slowHub != null) {
      slowHub.stop(0);
    }
  }

  @LocalServerPort int port;

  WebTestClient http() {
    return WebTestClient.bindToServer()
        .baseUrl("http://localhost:" + port)
        .responseTimeout(Duration.ofSeconds(30))
        .build();
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> post(String key, String path, Map<String, Object> body) {
    return http()
        .post()
        .uri(path)
        .header("Authorization", "Bearer " + key)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(body)
        .exchange()
        .expectStatus()
        .is2xxSuccessful()
        .expectBody(Map.class)
        .returnResult()
        .getResponseBody();
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> get(String key, String id) {
    return http()
        .get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + key)
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody(Map.class)
        .returnResult()
        .getResponseBody();
  }

  @Test
  void aTrickleHubHoldsOnlyItsTenantsShareAndADeleteWinsPromptly() {
    var vllm =
        Map.<String, Object>of(
            "name", "slow", "model", "org/slow", "framework", "vllm", "gpu", Map.of("type", "L4"));
    List<String> slow = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      slow.add((String) post(ADMIN_KEY, "/api/v1/deployments", vllm).get("id"));
    }
    String otherKey =
        (String)
            post(ADMIN_KEY, "/api/v1/api-keys", Map.of("tenant", "globex", "name", "ci"))
                .get("key");

    // The other tenant's sim deployment does not wait behind the trickling downloads.
    long start = System.nanoTime();
    String sim =
        (String)
            post(
                    otherKey,
                    "/api/v1/deployments",
                    Map.of("name", "fast", "model", "tiny", "framework", "sim"))
                .get("id");
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> get(otherKey, sim).get("status"), "running"::equals);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));

    // Two of the first tenant's downloads trickle; the others wait and say why.
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () ->
                slow.stream()
                    .map(id -> String.valueOf(get(ADMIN_KEY, id).get("status_reason")))
                    .anyMatch(r -> r.startsWith("waiting for a download slot")));
    assertThat(mostListingsOpen.get()).isLessThanOrEqualTo(2);

    // A deployment whose listing trickles is deleted promptly and cleanly.
    String downloading =
        slow.stream()
            .filter(id -> get(ADMIN_KEY, id).get("status_reason") == null)
            .findFirst()
            .orElseThrow();
    await().atMost(Duration.ofSeconds(15)).until(() -> listingsOpen.get() > 0);
    http()
        .delete()
        .uri("/api/v1/deployments/" + downloading)
        .header("Authorization", "Bearer " + ADMIN_KEY)
        .exchange()
        .expectStatus()
        .isAccepted();
    await()
        .atMost(Duration.ofSeconds(25))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> get(ADMIN_KEY, downloading).get("status"), "deleted"::equals);
    assertThat(dataDir.resolve("storage").resolve(downloading)).doesNotExist();
    assertThat(mostListingsOpen.get()).isLessThanOrEqualTo(2);
  }
}
