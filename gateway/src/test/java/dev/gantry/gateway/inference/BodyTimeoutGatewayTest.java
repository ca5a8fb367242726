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
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A client that stops sending its request body is answered 408 after the body timeout, and the body
 * bytes it held are given back: a stalled upload cannot keep its share of the body budget.
 */
@SpringBootTest(
    classes = BodyTimeoutGatewayTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class BodyTimeoutGatewayTest {
  @GatewayTestBeans
  @Import(SimAutoscaler.class)
  static class App {}

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "bodytimeout");
    registry.add("gantry.gateway.max-body-bytes", () -> "65536");
    registry.add("gantry.gateway.body-timeout", () -> "1s");
    registry.add("gantry.gateway.route-refresh", () -> "100ms");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  @Autowired DeploymentRepository deployments;
  @Autowired RoutingTable routes;
  @Autowired InferenceProxy proxy;

  @Test
  void aClientThatStopsSendingItsBodyIs408AndItsBytesAreGivenBack() throws Exception {
    String key = apiKeys.issue("acme", "acme", false).key();
    keyCache.refresh();
    var spec =
        new DeploymentSpec(
            "chat", "tiny", Framework.SIM, null, 0, 1, 4, 300, 60, 1, List.of(), List.of());
    String dep = "dep_stall" + System.nanoTime() % 100_000_000;
    deployments.insert(dep, "acme", spec, null);
    deployments.updateStatus(dep, DeploymentStatus.RUNNING, null);
    routes.refresh();
    String head =
        "POST /openai/"
            + dep
            + "/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + key
            + "\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n";
    try (var socket = new Socket("localhost", port)) {
      socket.setSoTimeout(10_000);
      var out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[1000]);
      out.flush();
      await().atMost(Duration.ofSeconds(5)).until(() -> proxy.budget().held() == 60000);
      long start = System.nanoTime();
      String response = RawHttp.read(socket.getInputStream());
      assertThat(response)
          .startsWith("HTTP/1.1 408")
          .containsIgnoringCase("retry-after: 1")
          .containsIgnoringCase("connection: close");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(proxy.budget().held()).isZero();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.inFlight() == 0);
  }
}
