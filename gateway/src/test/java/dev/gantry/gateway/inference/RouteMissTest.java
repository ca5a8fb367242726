package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.gateway.GatewayTestBeans;
import dev.gantry.gateway.TestData;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.DeploymentRepository;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A deployment that became {@code running} after the routing table's last periodic read is
 * answered, not 404: the periodic read is set to an hour here, so only the read a miss triggers can
 * find it.
 */
@SpringBootTest(
    classes = RouteMissTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@Timeout(120)
class RouteMissTest {
  static final String MODEL = "tiny";

  @GatewayTestBeans
  @Import(SimAutoscaler.class)
  static class App {}

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "routemiss");
    registry.add("gantry.gateway.route-refresh", () -> "1h");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  @Autowired DeploymentRepository deployments;
  @Autowired SimAutoscaler autoscaler;

  final HttpClient http = HttpClient.newHttpClient();
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
  void tearDown() {
    autoscaler.reset();
  }

  @Test
  void aDeploymentRunningSinceTheLastReadIsAnsweredAtOnce() throws Exception {
    String dep = runningDeployment("dep_missfirst");
    autoscaler.startWorker(dep);

    var chat = post(acme, "/openai/" + dep + "/v1/chat/completions", chat());
    var models = get(acme, "/openai/" + dep + "/v1/models");

    assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
    assertThat(models.statusCode()).isEqualTo(200);
    assertThat(models.body()).contains("\"id\":\"" + MODEL + "\"");
  }

  @Test
  void unknownAndOtherTenantsDeploymentsStill404() throws Exception {
    String dep = runningDeployment("dep_misssecond");

    assertThat(post(acme, "/openai/dep_nosuch1/v1/chat/completions", chat()).statusCode())
        .isEqualTo(404);
    var foreign = post(globex, "/openai/" + dep + "/v1/chat/completions", chat());
    assertThat(foreign.statusCode()).isEqualTo(404);
    assertThat(foreign.body()).contains("Deployment not found or not running");
    assertThat(get(globex, "/openai/" + dep + "/v1/models").statusCode()).isEqualTo(404);
  }

  String runningDeployment(String id) {
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
    deployments.insert(id, "acme", spec, null);
    deployments.updateStatus(id, DeploymentStatus.RUNNING, null);
    return id;
  }

  static String chat() {
    return """
        {"model":"%s","messages":[{"role":"user","content":"hi"}],"max_tokens":3}
        """
        .formatted(MODEL);
  }

  HttpResponse<String> post(String key, String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String key, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
            .header("Authorization", "Bearer " + key)
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
