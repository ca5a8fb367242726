package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** Failed authentications are limited per source address, on the management and inference paths. */
@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class FailedAuthLimitTest {
  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "authlimit");
    registry.add("gantry.auth.failed-attempts-burst", () -> "3");
    registry.add("gantry.auth.failed-attempts-per-minute", () -> "1");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  final HttpClient http = HttpClient.newHttpClient();

  HttpResponse<String> get(String path, String key) throws Exception {
    var request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void anAddressThatKeepsFailingGets429WithRetryAfterOnEveryPath() throws Exception {
    String key = apiKeys.issue("acme", "acme", false).key();
    keyCache.refresh();
    for (int i = 0; i < 10; i++) {
      assertThat(get("/api/v1/deployments", key).statusCode())
          .as("successful authentications take nothing from the limit")
          .isEqualTo(200);
    }

    assertThat(get("/api/v1/deployments", null).statusCode()).isEqualTo(401);
    assertThat(get("/api/v1/deployments", "gk_wrong").statusCode()).isEqualTo(401);
    assertThat(get("/openai/dep_x/v1/models", "gk_wrong").statusCode()).isEqualTo(401);

    var management = get("/api/v1/deployments", "gk_wrong");
    assertThat(management.statusCode()).isEqualTo(429);
    assertThat(management.headers().firstValue("Retry-After"))
        .hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isBetween(1L, 60L));
    assertThat(management.headers().firstValue("Content-Type"))
        .hasValue("application/problem+json");

    var inference = get("/openai/dep_x/v1/models", "gk_wrong");
    assertThat(inference.statusCode()).isEqualTo(429);
    assertThat(inference.headers().firstValue("Retry-After")).isPresent();
    assertThat(inference.body()).contains("\"rate_limit_error\"");

    var async = get("/deployment/dep_x/req_x", null);
    assertThat(async.statusCode()).isEqualTo(429);

    assertThat(get("/api/v1/deployments", key).statusCode())
        .as("a valid key from the limited address (a NAT, a load balancer) is still served")
        .isEqualTo(200);
  }
}
