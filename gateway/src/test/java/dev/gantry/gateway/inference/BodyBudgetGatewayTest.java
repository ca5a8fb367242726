package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.gateway.GatewayTestBeans;
import dev.gantry.gateway.TestData;
import dev.gantry.gateway.inference.InferenceGatewayTest.RawHttp;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.DeploymentRepository;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The body budget on the real data plane: requests whose bodies would pass a deployment's or a
 * tenant's share of memory are refused with 429 and {@code Retry-After} before their body is read,
 * while another tenant is served, and every way a request ends gives its bytes back.
 */
@SpringBootTest(
    classes = BodyBudgetGatewayTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class BodyBudgetGatewayTest {
  static final String MODEL = "tiny";
  static final int KIB = 1024;

  @GatewayTestBeans
  @Import(SimAutoscaler.class)
  static class App {}

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "budget");
    registry.add("gantry.gateway.max-body-bytes", () -> String.valueOf(64 * KIB));
    registry.add(
        "gantry.gateway.queued-body-bytes-per-deployment", () -> String.valueOf(128 * KIB));
    registry.add("gantry.gateway.queued-body-bytes-per-tenant", () -> String.valueOf(192 * KIB));
    registry.add("gantry.gateway.queued-body-bytes", () -> String.valueOf(1024 * KIB));
    registry.add("gantry.gateway.route-refresh", () -> "100ms");
    registry.add("gantry.gateway.demand-report-interval", () -> "50ms");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  @Autowired DeploymentRepository deployments;
  @Autowired SimAutoscaler autoscaler;
  @Autowired RoutingTable routes;
  @Autowired InferenceProxy proxy;

  final HttpClient http = HttpClient.newHttpClient();
  final AtomicInteger ids = new AtomicInteger();
  final List<Socket> sockets = new ArrayList<>();
  String acme;
  String globex;

  @BeforeEach
  void setUp() {
    autoscaler.reset();
    acme = apiKeys.issue("acme", "acme", false).key();
    globex = apiKeys.issue("globex", "globex", false).key();
    keyCache.refresh();
  }

  @AfterEach
  void tearDown() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              assertThat(proxy.inFlight()).isZero();
              assertThat(proxy.budget().held()).as("body bytes held").isZero();
            });
    autoscaler.reset();
  }

  String deployment(String tenant) {
    var spec =
        new DeploymentSpec(
            "chat",
            MODEL,
            Framework.SIM,
            null,
            0,
            1,
            4,
            300,
            60,
            1,
            List.of(),
            List.of("--ttft-ms=5", "--inter-token-ms=5"));
    String id = "dep_bud" + System.nanoTime() % 100_000_000 + ids.incrementAndGet();
    deployments.insert(id, tenant, spec, null);
    deployments.updateStatus(id, DeploymentStatus.RUNNING, null);
    routes.refresh();
    return id;
  }

  String head(String key, String dep, String framing) {
    return "POST /openai/"
        + dep
        + "/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + key
        + "\r\nContent-Type: application/json\r\n"
        + framing
        + "\r\n";
  }

  /** A client that declares a body of {@code bytes} and sends none of it yet. */
  Socket declaring(String key, String dep, int bytes, String extra) throws IOException {
    var socket = new Socket("localhost", port);
    sockets.add(socket);
    socket.setSoTimeout(10_000);
    socket
        .getOutputStream()
        .write(
            head(key, dep, "Content-Length: " + bytes + "\r\n" + extra)
                .getBytes(StandardCharsets.US_ASCII));
    return socket;
  }

  HttpResponse<String> chat(String key, String dep) throws Exception {
    String body =
        """
        {"model":"%s","messages":[{"role":"user","content":"hi"}],"max_tokens":2}
        """
            .formatted(MODEL);
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://localhost:" + port + "/openai/" + dep + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aDeclaredBodyPastTheBudgetIs429BeforeItIsSentWhileAnotherTenantIsServed() throws Exception {
    String depA = deployment("acme");
    String depB = deployment("acme");
    String other = deployment("globex");
    autoscaler.startWorker(other);
    routes.refresh();
    // Two bodies being received hold 120 KiB of depA's 128 KiB.
    declaring(acme, depA, 60 * KIB, "");
    declaring(acme, depA, 60 * KIB, "");
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().heldBy("acme") == 120 * KIB);

    // A third declares what does not fit: refused on its head, before one byte of its body, and
    // with Expect: 100-continue it is never asked to send it.
    for (String expect : List.of("", "Expect: 100-continue\r\n")) {
      try (var socket = declaring(acme, depA, 60 * KIB, expect)) {
        String response = RawHttp.read(socket.getInputStream());
        assertThat(response)
            .startsWith("HTTP/1.1 429")
            .containsIgnoringCase("retry-after: 1")
            .contains("Server busy, please retry")
            .doesNotContain("100 Continue");
      }
    }
    // depB has room, but acme as a whole has not: 120 + 60 of 192 KiB fits, one more does not.
    declaring(acme, depB, 60 * KIB, "");
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().heldBy("acme") == 180 * KIB);
    try (var socket = declaring(acme, depB, 60 * KIB, "")) {
      assertThat(RawHttp.read(socket.getInputStream())).startsWith("HTTP/1.1 429");
    }

    // Meanwhile globex is served as usual.
    for (int i = 0; i < 3; i++) {
      assertThat(chat(globex, other).statusCode()).isEqualTo(200);
    }

    // Clients that leave give their bytes back: acme is served again.
    for (Socket s : sockets) {
      s.close();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().held() == 0);
    autoscaler.startWorker(depA);
    routes.refresh();
    assertThat(chat(acme, depA).statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().held() == 0);
  }

  @Test
  void aChunkedBodyIsRefusedWith429WhenTheBudgetRunsOutOnTheWay() throws Exception {
    String dep = deployment("acme");
    declaring(acme, dep, 64 * KIB, "");
    declaring(acme, dep, 40 * KIB, "");
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().held() == 104 * KIB);
    byte[] piece = "x".repeat(4 * KIB).getBytes(StandardCharsets.US_ASCII);
    try (var socket = new Socket("localhost", port)) {
      socket.setSoTimeout(10_000);
      var out = socket.getOutputStream();
      out.write(head(acme, dep, "Transfer-Encoding: chunked\r\n").getBytes());
      var sent = new AtomicInteger();
      var sender =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      for (int i = 0; i < 16; i++) {
                        out.write((Integer.toHexString(piece.length) + "\r\n").getBytes());
                        out.write(piece);
                        out.write("\r\n".getBytes());
                        sent.addAndGet(piece.length);
                      }
                      out.write("0\r\n\r\n".getBytes());
                    } catch (IOException e) {
                      // The gateway may have ended its side already.
                    }
                  });
      String response = RawHttp.read(socket.getInputStream());
      assertThat(response)
          .startsWith("HTTP/1.1 429")
          .containsIgnoringCase("retry-after: 1")
          .containsIgnoringCase("connection: close");
      assertThat(socket.getInputStream().read()).as("an orderly end").isEqualTo(-1);
      assertThat(sender.join(Duration.ofSeconds(15))).isTrue();
    }
    // What the refused request had buffered is given back at once; the two others still hold.
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().held() == 104 * KIB);
  }
}
